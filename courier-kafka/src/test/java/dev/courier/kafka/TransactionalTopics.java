package dev.courier.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Reading topics the way transactional and non-transactional readers see them. */
final class TransactionalTopics {
  private TransactionalTopics() {}

  /** What a {@code read_committed} consumer sees: committed records only. */
  static List<ConsumerRecord<byte[], byte[]>> readCommitted(String bootstrap, String topic) {
    return read(bootstrap, topic, "read_committed");
  }

  /** What a {@code read_uncommitted} consumer sees: records of aborted transactions too. */
  static List<ConsumerRecord<byte[], byte[]>> readUncommitted(String bootstrap, String topic) {
    return read(bootstrap, topic, "read_uncommitted");
  }

  /**
   * Every record the isolation level shows, from the beginning to the current end (for {@code
   * read_committed}, the last stable offset).
   */
  static List<ConsumerRecord<byte[], byte[]>> read(
      String bootstrap, String topic, String isolationLevel) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                isolationLevel),
            new ByteArrayDeserializer(),
            new ByteArrayDeserializer())) {
      List<TopicPartition> partitions =
          c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
              .map(p -> new TopicPartition(p.topic(), p.partition()))
              .toList();
      c.assign(partitions);
      c.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = c.endOffsets(partitions, Duration.ofSeconds(30));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("could not read " + topic + " to its end");
        }
        c.poll(Duration.ofMillis(100)).forEach(out::add);
      }
    }
    return out;
  }

  /** The value of a header as text, or {@code null}. */
  static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  /** The sum over the topic's partitions of the offsets the group committed (0 where none). */
  static long committedTotal(String bootstrap, String groupId, String topic) {
    try (Admin admin = admin(bootstrap)) {
      Map<TopicPartition, OffsetAndMetadata> offsets =
          admin
              .listConsumerGroupOffsets(groupId)
              .partitionsToOffsetAndMetadata()
              .get(30, TimeUnit.SECONDS);
      return offsets.entrySet().stream()
          .filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
          .mapToLong(e -> e.getValue().offset())
          .sum();
    } catch (Exception e) {
      throw new IllegalStateException("cannot read offsets of group " + groupId, e);
    }
  }

  /** How many members the consumer group has now. */
  static int groupMembers(String bootstrap, String groupId) {
    try (Admin admin = admin(bootstrap)) {
      return admin
          .describeConsumerGroups(List.of(groupId))
          .all()
          .get(30, TimeUnit.SECONDS)
          .get(groupId)
          .members()
          .size();
    } catch (Exception e) {
      throw new IllegalStateException("cannot describe group " + groupId, e);
    }
  }

  private static Admin admin(String bootstrap) {
    return Admin.create(Map.of("bootstrap.servers", bootstrap, "default.api.timeout.ms", 30_000));
  }
}
