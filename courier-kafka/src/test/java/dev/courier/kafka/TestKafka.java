package dev.courier.kafka;

import dev.courier.embedded.KafkaEndpoint;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * The tests' Kafka: the JVM's shared broker (or COURIER_KAFKA_BOOTSTRAP), topics and plain clients.
 */
final class TestKafka {
  private TestKafka() {}

  static String bootstrap() {
    return KafkaEndpoint.fromEnvironmentOrEmbedded().bootstrapServers();
  }

  /** A topic name no other test uses. */
  static String uniqueTopic(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static String createTopic(String name, int partitions) {
    return createTopic(name, partitions, Map.of());
  }

  /** Creates a topic with replication factor 1 and the given topic configs. */
  static String createTopic(String name, int partitions, Map<String, String> configs) {
    return KafkaEndpoint.fromEnvironmentOrEmbedded().createTopic(name, partitions, configs);
  }

  static Admin admin() {
    return Admin.create(
        Map.of(
            AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
            bootstrap(),
            AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
            30_000));
  }

  /** The offset a group committed for a partition, if any. */
  static Optional<Long> committedOffset(String groupId, TopicPartition tp) {
    try (Admin admin = admin()) {
      Map<TopicPartition, OffsetAndMetadata> offsets =
          admin
              .listConsumerGroupOffsets(groupId)
              .partitionsToOffsetAndMetadata()
              .get(30, TimeUnit.SECONDS);
      OffsetAndMetadata o = offsets.get(tp);
      return o == null ? Optional.empty() : Optional.of(o.offset());
    } catch (Exception e) {
      throw new IllegalStateException("cannot read offsets of group " + groupId, e);
    }
  }

  /** A producer that bypasses Courier, for records Courier would never write. */
  static KafkaProducer<byte[], byte[]> rawProducer() {
    return new KafkaProducer<>(
        Map.of(
            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
            bootstrap(),
            ProducerConfig.ACKS_CONFIG,
            "all",
            ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
            4 * 1024 * 1024),
        new ByteArraySerializer(),
        new ByteArraySerializer());
  }

  /**
   * Every record in the topic, read from the beginning without a consumer group, up to the current
   * end.
   */
  static List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
    return TransactionalTopics.read(bootstrap(), topic, "read_uncommitted");
  }

  /**
   * The event ids of records, read from their courier-event-id header (null where there is none).
   */
  static List<String> eventIds(List<ConsumerRecord<byte[], byte[]>> records) {
    List<String> ids = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : records) {
      Header h = r.headers().lastHeader(KafkaHeaders.EVENT_ID);
      ids.add(h == null ? null : new String(h.value(), StandardCharsets.UTF_8));
    }
    return ids;
  }

  /** The partition Kafka's default partitioner picks for a key. */
  static int partitionOf(String key, int partitions) {
    return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
  }

  /**
   * A key, starting with {@code prefix}, that the default partitioner sends to {@code partition}.
   */
  static String keyOnPartition(String prefix, int partition, int partitions) {
    for (int i = 0; ; i++) {
      String key = prefix + "-" + i;
      if (partitionOf(key, partitions) == partition) {
        return key;
      }
    }
  }
}
