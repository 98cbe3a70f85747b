package dev.courier.bench.debezium;

import io.debezium.embedded.Connect;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * Debezium's embedded engine with a change consumer that sends each batch to Kafka and waits for
 * every acknowledgement before it marks the batch processed (what Debezium Server's Kafka sink
 * does).
 *
 * <p>This class is loaded by the benchmark's Debezium class loader, next to the Kafka clients
 * Debezium is built against, and is used from outside only through JDK types: constructed by
 * reflection, started with {@link #run()}, read with {@link #get()} and stopped with {@link
 * #close()}. It must not refer to any other class of the benchmark.
 */
public final class IsolatedEngine implements Runnable, Supplier<long[]>, AutoCloseable {
  private final KafkaProducer<byte[], byte[]> producer;
  private final DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>> engine;
  private final ExecutorService executor;
  private final AtomicLong confirmed = new AtomicLong();
  private final AtomicLong firstAt = new AtomicLong();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  /**
   * @param engineProperties the engine's and connector's configuration
   * @param producerProperties the Kafka producer's configuration
   * @param topic the topic the outbox router sends to: its metadata is fetched before {@link #run()}
   * @param skipKey records with this key are published but not counted
   */
  public IsolatedEngine(Properties engineProperties, Properties producerProperties, String topic, String skipKey) {
    ClassLoader own = IsolatedEngine.class.getClassLoader();
    Thread current = Thread.currentThread();
    ClassLoader previous = current.getContextClassLoader();
    // Connect loads the connector, converters and transforms by name through the context loader,
    // and every thread the engine starts inherits it.
    current.setContextClassLoader(own);
    try {
      producer = new KafkaProducer<>(producerProperties, new ByteArraySerializer(), new ByteArraySerializer());
      producer.partitionsFor(topic);
      engine =
          DebeziumEngine.create(Connect.class)
              .using(engineProperties)
              .using(
                  (success, message, error) -> {
                    if (!success) {
                      failure.compareAndSet(null, error != null ? error : new IllegalStateException(message));
                    }
                  })
              .notifying(
                  (records, committer) -> {
                    firstAt.compareAndSet(0, System.nanoTime());
                    List<Future<RecordMetadata>> sent = new ArrayList<>(records.size());
                    long counted = 0;
                    for (ChangeEvent<SourceRecord, SourceRecord> r : records) {
                      SourceRecord sr = r.value();
                      if (sr == null || sr.value() == null) {
                        continue;
                      }
                      Object key = sr.key();
                      byte[] keyBytes = key == null ? null : key.toString().getBytes(StandardCharsets.UTF_8);
                      sent.add(producer.send(new ProducerRecord<>(sr.topic(), keyBytes, bytes(sr.value()))));
                      if (!skipKey.equals(key)) {
                        counted++;
                      }
                    }
                    for (Future<RecordMetadata> f : sent) {
                      try {
                        f.get();
                      } catch (ExecutionException e) {
                        throw new IllegalStateException("publish not confirmed: " + e.getCause(), e.getCause());
                      }
                    }
                    for (ChangeEvent<SourceRecord, SourceRecord> r : records) {
                      committer.markProcessed(r);
                    }
                    committer.markBatchFinished();
                    confirmed.addAndGet(counted);
                  })
              .build();
      executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "bench-debezium-engine"));
    } finally {
      current.setContextClassLoader(previous);
    }
  }

  /** Starts the engine on its own thread and returns. */
  @Override
  public void run() {
    Thread current = Thread.currentThread();
    ClassLoader previous = current.getContextClassLoader();
    current.setContextClassLoader(IsolatedEngine.class.getClassLoader());
    try {
      executor.execute(engine);
    } finally {
      current.setContextClassLoader(previous);
    }
  }

  /**
   * The records confirmed so far (those with the skipped key left out) and the {@link
   * System#nanoTime()} at which the first batch reached the change consumer (0 before).
   *
   * @throws IllegalStateException if the engine stopped with an error
   */
  @Override
  public long[] get() {
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("the Debezium engine stopped: " + t, t);
    }
    return new long[] {confirmed.get(), firstAt.get()};
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      engine.close();
    } catch (IllegalStateException alreadyStopped) {
      // the engine shut itself down after an error, reported by get()
    } finally {
      executor.shutdown();
      executor.awaitTermination(60, TimeUnit.SECONDS);
      producer.close();
    }
  }

  private static byte[] bytes(Object value) {
    if (value instanceof byte[] b) {
      return b;
    }
    if (value instanceof ByteBuffer buf) {
      byte[] b = new byte[buf.remaining()];
      buf.duplicate().get(b);
      return b;
    }
    return value.toString().getBytes(StandardCharsets.UTF_8);
  }
}
