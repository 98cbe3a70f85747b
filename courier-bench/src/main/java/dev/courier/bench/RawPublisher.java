package dev.courier.bench;

import dev.courier.kafka.KafkaTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka ceiling: a plain producer with the settings of Courier's transport ({@code acks=all},
 * idempotent, 5 requests in flight, the transport's {@code linger.ms} unless told otherwise) and
 * nothing else in the way.
 */
final class RawPublisher implements AutoCloseable {
  private final KafkaProducer<byte[], byte[]> producer;

  RawPublisher(String bootstrapServers) {
    this(bootstrapServers, KafkaTransport.DEFAULT_LINGER_MS);
  }

  RawPublisher(String bootstrapServers, int lingerMs) {
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    config.put(ProducerConfig.LINGER_MS_CONFIG, lingerMs);
    config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
    config.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-raw");
    producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
  }

  /**
   * Publishes the records {@code batch} at a time, waiting for every acknowledgement of a batch
   * before sending the next, as the relay does.
   *
   * @return the elapsed time
   */
  Duration publishInBatches(List<ProducerRecord<byte[], byte[]>> records, int batch) {
    long start = System.nanoTime();
    List<Future<RecordMetadata>> pending = new ArrayList<>(batch);
    for (int i = 0; i < records.size(); i += batch) {
      pending.clear();
      for (int j = i; j < Math.min(records.size(), i + batch); j++) {
        pending.add(producer.send(records.get(j)));
      }
      awaitAll(pending);
    }
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Sends every record without waiting in between, then waits for all acknowledgements. */
  Duration publishPipelined(List<ProducerRecord<byte[], byte[]>> records) {
    long start = System.nanoTime();
    List<Future<RecordMetadata>> pending = new ArrayList<>(records.size());
    for (ProducerRecord<byte[], byte[]> r : records) {
      pending.add(producer.send(r));
    }
    awaitAll(pending);
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Sends records and waits for them, untimed. */
  void send(List<ProducerRecord<byte[], byte[]>> records) {
    publishPipelined(records);
  }

  private static void awaitAll(List<Future<RecordMetadata>> pending) {
    for (Future<RecordMetadata> f : pending) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("the broker refused a ceiling record: " + e.getCause(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while publishing", e);
      }
    }
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(10));
  }
}
