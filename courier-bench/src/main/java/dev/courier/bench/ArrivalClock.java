package dev.courier.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The clock of the peer comparisons' end-to-end figures: an open-loop writer at a constant rate
 * whose records carry their intended send time in the first 8 bytes of the value, and one plain
 * {@link KafkaConsumer} (the same for Courier and every peer) that records, for each record, the
 * time from that intended send time until {@code poll} returned it.
 *
 * <p>The end point is the record's arrival at a consumer, not a committed effect: a peer delivers
 * plain records, so the consumer's own work (Courier's ledger, or anything else) is left out for
 * everyone alike. Courier's own W3 figure, to the committed effect, is stricter.
 */
final class ArrivalClock implements AutoCloseable {
  // a loaded run the relay cannot keep up with queues its events for minutes: keep those latencies
  private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(15);

  /** Writes event {@code i}, due at {@code dueNanos}, whose value is {@code payload}. */
  @FunctionalInterface
  interface Writer {
    void write(long i, long dueNanos, byte[] payload) throws Exception;
  }

  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Thread thread;
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final AtomicLong arrived = new AtomicLong();
  private final AtomicLong recordFrom = new AtomicLong(Long.MAX_VALUE);
  private final Histogram histogram = new Histogram(HIGHEST_MICROS, 3);
  // from the writer's transaction start, for payloads that carry it (the loaded runs)
  private final Histogram fromStart = new Histogram(HIGHEST_MICROS, 3);
  private volatile Throwable failure;

  /** Subscribes to every partition of {@code topic} from its current end. */
  ArrivalClock(String bootstrapServers, String topic) {
    consumer =
        new KafkaConsumer<>(
            Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.CLIENT_ID_CONFIG, "bench-arrival"),
            new ByteArrayDeserializer(),
            new ByteArrayDeserializer());
    List<TopicPartition> partitions = new ArrayList<>();
    for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
      partitions.add(new TopicPartition(topic, p.partition()));
    }
    consumer.assign(partitions);
    consumer.seekToEnd(partitions);
    for (TopicPartition tp : partitions) {
      consumer.position(tp, Duration.ofSeconds(30));
    }
    thread = new Thread(this::loop, "bench-arrival-" + topic);
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    try {
      while (running.get()) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
          long now = System.nanoTime();
          long due = BenchEvents.stamp(r.value());
          if (due - recordFrom.get() >= 0) {
            histogram.recordValue(Math.min(HIGHEST_MICROS, Math.max(0, (now - due) / 1000)));
            long started = BenchEvents.startedStamp(r.value());
            if (started != 0) {
              fromStart.recordValue(Math.min(HIGHEST_MICROS, Math.max(0, (now - started) / 1000)));
            }
          }
          arrived.incrementAndGet();
        }
      }
    } catch (Throwable t) {
      failure = t;
    } finally {
      consumer.close(Duration.ofSeconds(5));
    }
  }

  long arrived() {
    return arrived.get();
  }

  /**
   * Runs the writer at {@code rate} events/s for {@code warmup + duration}, records the events due
   * after the warm-up, waits until every event written arrived (at most 60 s after the last write),
   * and returns the histogram in microseconds.
   */
  Histogram run(double rate, Duration warmup, Duration duration, int payloadSize, Writer writer) throws Exception {
    long before = arrived.get();
    long periodNanos = Math.round(1e9 / rate);
    long warm = warmup.toNanos() / periodNanos;
    long total = warm + duration.toNanos() / periodNanos;
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
    recordFrom.set(start + warm * periodNanos);
    for (long i = 0; i < total; i++) {
      long due = start + i * periodNanos;
      awaitDue(due);
      writer.write(i, due, BenchEvents.stampedPayload(payloadSize, due));
    }
    awaitArrived(before + total, Duration.ofSeconds(60));
    return histogram.copy();
  }

  /** Writes transaction {@code tx} of writer {@code writer}: {@code events} events, each with payload {@code payload}. */
  @FunctionalInterface
  interface TransactionWriter {
    void write(int writer, long tx, byte[] payload, int events) throws Exception;
  }

  /**
   * What {@link #runParallel} measured.
   *
   * @param latency intended send time → arrival, in microseconds, for the events due after the warm-up
   * @param fromStart the same events, from the moment their writer began the transaction: what
   *     the path after the writer added, without the writers' own queue (not corrected for
   *     coordinated omission; context)
   * @param offeredRate the events per second the schedule asked for
   * @param achievedRate the events per second the writers committed, from the first due time to
   *     the last commit
   * @param deliveredRate the events per second that reached the consumer, from the first due time
   *     to the last arrival: below the offered rate when the relay did not keep up
   */
  record Loaded(Histogram latency, Histogram fromStart, double offeredRate, double achievedRate, double deliveredRate) {}

  /**
   * Like {@link #run}, at rates one writer cannot commit: {@code writers} threads, each committing
   * transactions of {@code perTransaction} events on its own open-loop schedule; together they
   * offer {@code rate} events/s. Transaction {@code j} of writer {@code w} is due at {@code start +
   * (j * writers + w) * perTransaction / rate}, and every event in it carries that time.
   */
  Loaded runParallel(
      double rate, Duration warmup, Duration duration, int payloadSize, int writers, int perTransaction, TransactionWriter writer)
      throws Exception {
    long before = arrived.get();
    long txPeriod = Math.round(1e9 * perTransaction / rate);
    long warmTx = warmup.toNanos() / txPeriod;
    long totalTx = warmTx + duration.toNanos() / txPeriod;
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    recordFrom.set(start + warmTx * txPeriod);
    AtomicLong written = new AtomicLong();
    AtomicLong lastCommit = new AtomicLong(start);
    List<Thread> threads = new ArrayList<>();
    java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
    for (int w = 0; w < writers; w++) {
      int me = w;
      threads.add(
          Thread.ofPlatform()
              .name("bench-loaded-writer-" + w)
              .start(
                  () -> {
                    try {
                      for (long tx = me; tx < totalTx && failed.get() == null; tx += writers) {
                        long due = start + tx * txPeriod;
                        awaitDue(due);
                        writer.write(me, tx, BenchEvents.stampedPayload(payloadSize, due, System.nanoTime()), perTransaction);
                        written.addAndGet(perTransaction);
                        lastCommit.accumulateAndGet(System.nanoTime(), Math::max);
                      }
                    } catch (Throwable t) {
                      failed.compareAndSet(null, t);
                    }
                  }));
    }
    for (Thread t : threads) {
      t.join();
    }
    if (failed.get() != null) {
      throw new IllegalStateException("a writer failed: " + failed.get(), failed.get());
    }
    awaitProgressing(before + written.get(), Duration.ofSeconds(60));
    long lastArrival = System.nanoTime();
    double achieved = written.get() / ((lastCommit.get() - start) / 1e9);
    double delivered = written.get() / ((lastArrival - start) / 1e9);
    return new Loaded(histogram.copy(), fromStart.copy(), rate, achieved, delivered);
  }

  /**
   * Returns at {@code due} ({@link System#nanoTime()}), never before; at once when it has passed,
   * so a late open-loop writer catches up instead of shifting its schedule.
   */
  static void awaitDue(long due) {
    long wait = due - System.nanoTime();
    if (wait > 0) {
      LockSupport.parkNanos(wait);
      while (System.nanoTime() - due < 0) {
        Thread.onSpinWait();
      }
    }
  }

  /**
   * Waits until {@code n} records arrived in total, however long that takes while records keep
   * arriving: a relay that fell behind a rate it cannot sustain still delivers everything, late,
   * and its latency is the finding. Fails only when nothing arrives for {@code stall}.
   */
  void awaitProgressing(long n, Duration stall) throws InterruptedException {
    long seen = arrived.get();
    long lastProgress = System.nanoTime();
    while (arrived.get() < n) {
      if (failure != null) {
        throw new IllegalStateException("the arrival consumer failed: " + failure, failure);
      }
      long now = arrived.get();
      if (now != seen) {
        seen = now;
        lastProgress = System.nanoTime();
      } else if (System.nanoTime() - lastProgress > stall.toNanos()) {
        throw new IllegalStateException("only " + now + " of " + n + " records arrived; none in the last " + stall);
      }
      Thread.sleep(2);
    }
  }

  /** Waits until {@code n} records arrived in total. */
  void awaitArrived(long n, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (arrived.get() < n) {
      if (failure != null) {
        throw new IllegalStateException("the arrival consumer failed: " + failure, failure);
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("only " + arrived.get() + " of " + n + " records arrived within " + timeout);
      }
      Thread.sleep(2);
    }
  }

  @Override
  public void close() {
    running.set(false);
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static double ms(long micros) {
    return micros / 1000.0;
  }
}
