package dev.courier.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Reading topics the way transactional and non-transactional readers see them. */
final class TransactionalTopics {
  private TransactionalTopics() {}

  /**
   * What a {@code read_committed} consumer sees: committed records only. A transaction's commit
   * returns (and its consumed offsets become visible) before the broker has written the commit
   * markers to every output partition; until then the last stable offset stays behind the open
   * transaction. So this first waits, up to 15 s, for the topic to have no open transaction (last
   * stable offset equal to the high watermark on every partition), and then reads.
   */
  static List<ConsumerRecord<byte[], byte[]>> readCommitted(String bootstrap, String topic) {
    awaitNoOpenTransaction(bootstrap, topic, Duration.ofSeconds(15));
    return read(bootstrap, topic, "read_committed");
  }

  /**
   * Waits until every partition's last stable offset has reached its high watermark, or until
   * {@code atMost} has passed (a transaction left open on purpose stays open; the caller's
   * assertions then show what a reader sees).
   */
  static void awaitNoOpenTransaction(String bootstrap, String topic, Duration atMost) {
    long deadline = System.nanoTime() + atMost.toNanos();
    try (Admin admin = admin(bootstrap)) {
      List<TopicPartition> partitions =
          admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS)
              .get(topic).partitions().stream()
              .map(p -> new TopicPartition(topic, p.partition()))
              .toList();
      while (true) {
        Map<TopicPartition, Long> stable = latest(admin, partitions, IsolationLevel.READ_COMMITTED);
        Map<TopicPartition, Long> high = latest(admin, partitions, IsolationLevel.READ_UNCOMMITTED);
        if (stable.equals(high) || System.nanoTime() > deadline) {
          return;
        }
        Thread.sleep(50);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot read the offsets of " + topic, e);
    }
  }

  private static Map<TopicPartition, Long> latest(
      Admin admin, List<TopicPartition> partitions, IsolationLevel level) throws Exception {
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    partitions.forEach(tp -> request.put(tp, OffsetSpec.latest()));
    Map<TopicPartition, Long> out = new HashMap<>();
    admin
        .listOffsets(request, new ListOffsetsOptions(level))
        .all()
        .get(30, TimeUnit.SECONDS)
        .forEach((tp, info) -> out.put(tp, info.offset()));
    return out;
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
