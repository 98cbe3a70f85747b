package dev.courier.bench;

import com.gruelbox.transactionoutbox.Dialect;
import com.gruelbox.transactionoutbox.Instantiator;
import com.gruelbox.transactionoutbox.Persistor;
import com.gruelbox.transactionoutbox.Submitter;
import com.gruelbox.transactionoutbox.ThreadLocalContextTransactionManager;
import com.gruelbox.transactionoutbox.TransactionManager;
import com.gruelbox.transactionoutbox.TransactionOutbox;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gruelbox transaction-outbox peer ({@code com.gruelbox:transactionoutbox-core}) on the same
 * PostgreSQL and broker as Courier: its JDBC persistor ({@code Dialect.POSTGRESQL_9}), its {@code
 * TransactionManager.fromDataSource} on the same kind of pool, and a {@link GruelboxPublisher} that
 * sends one record to Kafka and waits for the broker's acknowledgement, so that gruelbox deletes the
 * entry only once the record is confirmed.
 *
 * <p>Two settings: gruelbox's defaults (its default submitter: one worker thread and a queue of
 * 16,384; {@code flushBatchSize} 4,096) with a Kafka producer at Kafka's defaults ({@code acks=all},
 * idempotent, {@code linger.ms=5}); and settings matched to Courier's: the producer of Courier's
 * {@link KafkaTransport} ({@code linger.ms=1}), {@code flushBatchSize} 256 (Courier's batch) and two
 * workers (Courier keeps two batches in flight). gruelbox logs two INFO lines per entry; its logger
 * is held at WARN in both, as for every other library in the benchmark.
 *
 * <p>The drain: the backlog is scheduled with a submitter that does nothing (as after a crash that
 * lost the in-memory submissions) and made due at once; then {@code flush()} is called whenever the
 * workers' queue has room for another batch, until every entry is confirmed and deleted.
 */
final class GruelboxPeer {
  private static final Logger log = LoggerFactory.getLogger(GruelboxPeer.class);
  private static final int FILL_BATCH = 1000;

  private GruelboxPeer() {}

  /** gruelbox's settings for one measurement. */
  record Setting(String id, String label, int workers, int flushBatchSize, int lingerMs) {
    static final Setting DEFAULTS = new Setting("defaults", "gruelbox defaults, Kafka producer defaults", 1, 4096, 5);
    static final Setting MATCHED =
        new Setting(
            "matched",
            "matched to Courier: 2 workers, flushBatchSize 256, Courier's producer settings",
            2,
            256,
            KafkaTransport.DEFAULT_LINGER_MS);
  }

  static void run(RunContext ctx) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().gruelboxBacklog();
    int size = ctx.options().payloadSizes().get(0);
    String sz = size + " B";
    String courierTopic = env.newTopic("gb-courier");
    HikariDataSource courierPool = env.freshSchema("gb_courier", 8);
    RelayDrain.Drain courier;
    try {
      courier = RelayDrain.drain(env, courierPool, courierTopic, n, size, env::checkpoint);
    } finally {
      env.discard(courierPool);
    }
    Workload w = Workload.GRUELBOX;
    ctx.add(w, "courier.drain", "Courier relay drain, same backlog of " + n + ", " + sz, "events/s", courier.eventsPerSecond(), null);
    for (Setting s : new Setting[] {Setting.DEFAULTS, Setting.MATCHED}) {
      double rate = drain(ctx, s, n, size);
      ctx.add(w, s.id() + ".drain", "gruelbox drain, backlog of " + n + ", " + sz + ", " + s.label(), "events/s", rate, null);
      ctx.add(
          w,
          s.id() + ".drain_ratio",
          "Courier's drain ÷ gruelbox's, " + s.label(),
          Figure.RATIO,
          courier.eventsPerSecond() / rate,
          Goal.atLeast(10));
    }
    String rate = String.format(java.util.Locale.ROOT, "%.0f/s", ctx.options().e2eRate());
    HikariDataSource pool = env.freshSchema("gb_e2e_courier", 10);
    Histogram c;
    try {
      c = CourierArrival.measure(env, pool, env.newTopic("gb-e2e-courier"), ctx.options());
    } finally {
      env.discard(pool);
    }
    ctx.add(w, "courier.e2e.p50", "Courier commit → record at a consumer p50 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(50)), null);
    ctx.add(w, "courier.e2e.p99", "Courier commit → record at a consumer p99 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(99)), null);
    for (Setting s : new Setting[] {Setting.DEFAULTS, Setting.MATCHED}) {
      Histogram g = endToEnd(ctx, s);
      ctx.add(w, s.id() + ".e2e.p50", "gruelbox commit → record at a consumer p50 at " + rate + ", " + s.label(), "ms", ArrivalClock.ms(g.getValueAtPercentile(50)), null);
      ctx.add(w, s.id() + ".e2e.p99", "gruelbox commit → record at a consumer p99 at " + rate + ", " + s.label(), "ms", ArrivalClock.ms(g.getValueAtPercentile(99)), null);
      ctx.add(
          w,
          s.id() + ".e2e.p99_ratio",
          "Courier's p99 ÷ gruelbox's p99 (below 1: Courier is faster), " + s.label(),
          Figure.RATIO,
          (double) c.getValueAtPercentile(99) / Math.max(1, g.getValueAtPercentile(99)),
          null);
    }
  }

  /** The publisher gruelbox invokes: one record, sent and awaited. */
  public static final class KafkaPublisher implements GruelboxPublisher {
    private final KafkaProducer<byte[], byte[]> producer;
    private final AtomicLong confirmed = new AtomicLong();

    KafkaPublisher(KafkaProducer<byte[], byte[]> producer) {
      this.producer = producer;
    }

    @Override
    public void publish(String topic, String key, String payloadBase64) {
      byte[] value = Base64.getDecoder().decode(payloadBase64);
      try {
        producer
            .send(new ProducerRecord<>(topic, key.getBytes(java.nio.charset.StandardCharsets.UTF_8), value))
            .get(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while publishing", e);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException("publish not confirmed: " + e, e);
      }
      confirmed.incrementAndGet();
    }

    long confirmed() {
      return confirmed.get();
    }
  }

  private static KafkaProducer<byte[], byte[]> producer(BenchEnvironment env, Setting s) {
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, env.kafka().bootstrapServers());
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.LINGER_MS_CONFIG, s.lingerMs());
    config.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-gruelbox-" + s.id());
    return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
  }

  private static ThreadPoolExecutor workers(Setting s) {
    // gruelbox's Submitter.withDefaultExecutor(): a pool of one thread and a bounded queue of 16,384
    return new ThreadPoolExecutor(s.workers(), s.workers(), 0L, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(16384));
  }

  private static TransactionOutbox outbox(
      ThreadLocalContextTransactionManager tm, Submitter submitter, GruelboxPublisher publisher, Setting s) {
    return TransactionOutbox.builder()
        .transactionManager(tm)
        .persistor(Persistor.forDialect(Dialect.POSTGRESQL_9))
        .instantiator(Instantiator.using(clazz -> publisher))
        .submitter(submitter)
        .flushBatchSize(s.flushBatchSize())
        .build();
  }

  static double drain(RunContext ctx, Setting s, int n, int payloadSize) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("gb-" + s.id());
    HikariDataSource pool = env.freshSchema("gb_" + s.id(), 8);
    ThreadPoolExecutor workers = workers(s);
    try (KafkaProducer<byte[], byte[]> producer = producer(env, s)) {
      ThreadLocalContextTransactionManager tm = TransactionManager.fromDataSource(pool);
      KafkaPublisher publisher = new KafkaPublisher(producer);
      // Fill: entries scheduled, never submitted.
      TransactionOutbox filler = outbox(tm, (entry, local) -> {}, publisher, s);
      for (int from = 0; from < n; from += FILL_BATCH) {
        int to = Math.min(n, from + FILL_BATCH);
        int first = from;
        tm.inTransaction(
            () -> {
              for (int i = first; i < to; i++) {
                filler
                    .schedule(GruelboxPublisher.class)
                    .publish(topic, BenchEvents.key(BenchEvents.orderId(0, i)), Base64.getEncoder().encodeToString(BenchEvents.payload(payloadSize, i)));
              }
            });
      }
      // Due now (gruelbox makes a new entry due after attemptFrequency, 2 minutes by default).
      BenchEnvironment.update(pool, "UPDATE txno_outbox SET nextAttemptTime = now() - interval '1 second'");
      BenchEnvironment.vacuumAnalyze(pool, "txno_outbox");
      // the producer connected and the topic's metadata fetched, as for Courier's drain
      publisher.publish(topic, "warm-up", Base64.getEncoder().encodeToString(new byte[8]));
      env.checkpoint();
      TransactionOutbox outbox = outbox(tm, Submitter.withExecutor(workers), publisher, s);
      long target = n + 1;
      long start = System.nanoTime();
      long deadline = start + TimeUnit.SECONDS.toNanos(Math.max(600, n / 20));
      while (publisher.confirmed() < target) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("gruelbox confirmed " + (publisher.confirmed() - 1) + " of " + n + " before the deadline");
        }
        boolean found = false;
        if (workers.getQueue().size() <= s.flushBatchSize()) {
          found = outbox.flush();
        }
        if (!found) {
          Thread.sleep(1);
        }
      }
      // the last entries are deleted in the same transaction, right after their confirmation
      while (workers.getActiveCount() > 0 || !workers.getQueue().isEmpty()) {
        Thread.sleep(1);
      }
      long took = System.nanoTime() - start;
      long left = BenchEnvironment.count(pool, "SELECT count(*) FROM txno_outbox");
      if (left != 0) {
        throw new IllegalStateException("gruelbox: " + left + " entries left after the drain");
      }
      log.info("gruelbox ({}) drained {} entries of {} B in {} ms", s.id(), n, payloadSize, took / 1_000_000);
      return n / (took / 1e9);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      workers.shutdownNow();
      env.discard(pool);
    }
  }

  static Histogram endToEnd(RunContext ctx, Setting s) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    String topic = env.newTopic("gb-e2e-" + s.id());
    HikariDataSource pool = env.freshSchema("gb_e2e_" + s.id(), 10);
    ThreadPoolExecutor workers = workers(s);
    try (KafkaProducer<byte[], byte[]> producer = producer(env, s);
        ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic)) {
      ThreadLocalContextTransactionManager tm = TransactionManager.fromDataSource(pool);
      KafkaPublisher publisher = new KafkaPublisher(producer);
      TransactionOutbox outbox = outbox(tm, Submitter.withExecutor(workers), publisher, s);
      Base64.Encoder b64 = Base64.getEncoder();
      ArrivalClock.Writer writer =
          (i, due, payload) ->
              tm.inTransactionThrows(
                  tx -> {
                    long orderId = BenchEvents.orderId(6, i);
                    BenchEvents.insertOrder(tx.connection(), orderId);
                    outbox.schedule(GruelboxPublisher.class).publish(topic, BenchEvents.key(orderId), b64.encodeToString(payload));
                  });
      writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
      clock.awaitArrived(1, Duration.ofSeconds(60));
      return clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("gruelbox end-to-end run failed: " + e, e);
    } finally {
      workers.shutdownNow();
      env.discard(pool);
    }
  }
}
