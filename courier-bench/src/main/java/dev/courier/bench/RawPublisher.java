package dev.courier.bench;

import dev.courier.kafka.KafkaTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A plain Kafka producer with the delivery settings of Courier's transport ({@code acks=all},
 * idempotent, 5 requests in flight, the most Kafka allows with idempotence) and nothing else in the
 * way; its batching ({@code batch.size}, {@code linger.ms}) is a {@link Tuning} of its own, no
 * compression. The Kafka ceiling and the hand-written loop publish with it.
 */
final class RawPublisher implements AutoCloseable {
  /**
   * The producer's batching.
   *
   * @param batchBytes {@code batch.size}
   * @param lingerMs {@code linger.ms}
   */
  record Tuning(int batchBytes, int lingerMs) {
    /** What Courier's {@link KafkaTransport} uses by default. */
    static final Tuning TRANSPORT = new Tuning(KafkaTransport.DEFAULT_BATCH_BYTES, KafkaTransport.DEFAULT_LINGER_MS);

    /** {@code batch.size=64 KiB, linger.ms=5}, for labels. */
    String label() {
      String size =
          batchBytes % 1024 == 0 ? (batchBytes / 1024) + " KiB" : String.format(Locale.ROOT, "%,d B", batchBytes);
      return "batch.size=" + size + ", linger.ms=" + lingerMs;
    }

    /** {@code b64k.l5}, for figure ids. */
    String id() {
      return "b" + (batchBytes % 1024 == 0 ? (batchBytes / 1024) + "k" : Integer.toString(batchBytes)) + ".l" + lingerMs;
    }
  }

  private final KafkaProducer<byte[], byte[]> producer;

  /** A producer with the transport's own batching. */
  RawPublisher(String bootstrapServers) {
    this(bootstrapServers, Tuning.TRANSPORT);
  }

  RawPublisher(String bootstrapServers, Tuning tuning) {
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    config.put(ProducerConfig.BATCH_SIZE_CONFIG, tuning.batchBytes());
    config.put(ProducerConfig.LINGER_MS_CONFIG, tuning.lingerMs());
    config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
    config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
    config.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-raw");
    producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
  }

  /**
   * Publishes the records {@code batch} at a time, waiting for every acknowledgement of a batch
   * before sending the next, as the relay does with each of its batches.
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

  /**
   * A timed publish.
   *
   * @param records how many records the broker acknowledged
   * @param elapsed from the first send to the last acknowledgement
   */
  record Published(long records, Duration elapsed) {
    double perSecond() {
      return records / (elapsed.toNanos() / 1e9);
    }
  }

  /**
   * Sends every record without waiting in between (the producer blocks only when its buffer is
   * full), then waits for all acknowledgements: the fastest confirmed publish of these records.
   *
   * @return the elapsed time
   */
  Duration publishPipelined(List<ProducerRecord<byte[], byte[]>> records) {
    return publishPipelined(records, Duration.ZERO).elapsed();
  }

  /**
   * Sends the records, pass after pass, without waiting for any acknowledgement until at least
   * {@code atLeast} has passed since the first send (one pass at least), then waits for every
   * acknowledgement. A record sent again in a later pass is simply another record to the broker.
   *
   * @throws IllegalStateException if the broker refused any record
   */
  Published publishPipelined(List<ProducerRecord<byte[], byte[]>> records, Duration atLeast) {
    AtomicReference<Exception> failure = new AtomicReference<>();
    LongAdder acknowledged = new LongAdder();
    Callback callback =
        (metadata, exception) -> {
          if (exception != null) {
            failure.compareAndSet(null, exception);
          } else {
            acknowledged.increment();
          }
        };
    long start = System.nanoTime();
    long until = start + atLeast.toNanos();
    long sent = 0;
    do {
      for (ProducerRecord<byte[], byte[]> r : records) {
        producer.send(r, callback);
      }
      sent += records.size();
    } while (System.nanoTime() - until < 0);
    producer.flush();
    long elapsed = System.nanoTime() - start;
    if (failure.get() != null) {
      throw new IllegalStateException("the broker refused a record: " + failure.get(), failure.get());
    }
    if (acknowledged.sum() != sent) {
      throw new IllegalStateException("the broker acknowledged " + acknowledged.sum() + " of " + sent + " records");
    }
    return new Published(sent, Duration.ofNanos(elapsed));
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
        throw new IllegalStateException("the broker refused a record: " + e.getCause(), e.getCause());
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
