package dev.courier.server.demo;

import dev.courier.CourierException;
import dev.courier.kafka.KafkaHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Reads what is on the demo topic and how far each consumer group has committed. */
final class TopicCensus {
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(15);

  /**
   * What the topic holds.
   *
   * @param records every record
   * @param distinctEventIds distinct {@link KafkaHeaders#EVENT_ID} values
   * @param rolledBack records carrying the id of an event whose transaction rolled back
   */
  record Counts(long records, long distinctEventIds, long rolledBack) {
    long duplicates() {
      return records - distinctEventIds;
    }
  }

  private final Admin admin;
  private final String bootstrapServers;
  private final String topic;

  TopicCensus(Admin admin, String bootstrapServers, String topic) {
    this.admin = admin;
    this.bootstrapServers = bootstrapServers;
    this.topic = topic;
  }

  /** The end offset of every partition of the topic. */
  Map<TopicPartition, Long> endOffsets() {
    try {
      var description =
          admin
              .describeTopics(List.of(topic))
              .allTopicNames()
              .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
              .get(topic);
      Map<TopicPartition, OffsetSpec> request = new HashMap<>();
      description
          .partitions()
          .forEach(p -> request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
      Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> result =
          admin.listOffsets(request).all().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      Map<TopicPartition, Long> out = new HashMap<>();
      result.forEach((tp, info) -> out.put(tp, info.offset()));
      return out;
    } catch (ExecutionException | TimeoutException e) {
      throw new CourierException(
          "cannot read the end offsets of topic " + topic + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CourierException("interrupted while reading offsets of " + topic, e);
    }
  }

  /** Records a group has not committed past yet, over all partitions of the topic. */
  long lag(String groupId) {
    Map<TopicPartition, Long> ends = endOffsets();
    Map<TopicPartition, OffsetAndMetadata> committed;
    try {
      committed =
          admin
              .listConsumerGroupOffsets(groupId)
              .partitionsToOffsetAndMetadata()
              .get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new CourierException(
          "cannot read the committed offsets of group " + groupId + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CourierException("interrupted while reading offsets of " + groupId, e);
    }
    long lag = 0;
    for (var e : ends.entrySet()) {
      OffsetAndMetadata c = committed.get(e.getKey());
      lag += Math.max(0, e.getValue() - (c == null ? 0 : c.offset()));
    }
    return lag;
  }

  /** Reads the whole topic from the beginning to its current end. */
  Counts count(Set<UUID> rolledBackEventIds, Duration timeout) {
    Map<TopicPartition, Long> ends = endOffsets();
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "courier-demo-census");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
    long records = 0;
    long rolledBack = 0;
    Set<String> ids = new HashSet<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.assign(ends.keySet());
      consumer.seekToBeginning(ends.keySet());
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!reachedEnd(consumer, ends)) {
        if (System.nanoTime() > deadline) {
          throw new CourierException(
              "reading topic " + topic + " did not finish within " + timeout);
        }
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          records++;
          Header h = r.headers().lastHeader(KafkaHeaders.EVENT_ID);
          String id =
              h == null
                  ? "(none)@" + r.partition() + "/" + r.offset()
                  : new String(h.value(), StandardCharsets.UTF_8);
          ids.add(id);
          try {
            if (h != null && rolledBackEventIds.contains(UUID.fromString(id))) {
              rolledBack++;
            }
          } catch (IllegalArgumentException notAUuid) {
            // counted as a distinct record; not one of ours
          }
        }
      }
    }
    return new Counts(records, ids.size(), rolledBack);
  }

  private static boolean reachedEnd(
      KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends) {
    for (var e : ends.entrySet()) {
      if (consumer.position(e.getKey()) < e.getValue()) {
        return false;
      }
    }
    return true;
  }
}
