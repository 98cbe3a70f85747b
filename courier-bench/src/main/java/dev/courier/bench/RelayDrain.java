package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.kafka.KafkaTransport;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * W2: how fast the real {@link Relay} and {@link KafkaTransport}, with their default settings,
 * drain a backlog that is already committed, divided by the rate at which a plain producer
 * publishes the same number of records of the same size in the relay's batch size (W0).
 */
final class RelayDrain {
  private static final Logger log = LoggerFactory.getLogger(RelayDrain.class);
  private static final int FILL_BATCH = 1000;

  private RelayDrain() {}

  static void run(RunContext ctx) {
    for (int size : ctx.options().payloadSizes()) {
      Ceilings.Publish raw = Ceilings.kafkaBatched(ctx, size);
      Drain drain = drain(ctx, size);
      int n = ctx.options().backlog();
      String sz = size + " B";
      ctx.add(Workload.W2, "drain." + size, "relay drain, " + sz + ", backlog " + n, "events/s", drain.eventsPerSecond(), null);
      ctx.add(
          Workload.W2,
          "drain_vs_raw." + size,
          "relay drain ÷ raw confirmed publish in batches of " + Ceilings.RELAY_BATCH + ", " + sz,
          Figure.RATIO,
          drain.eventsPerSecond() / raw.eventsPerSecond(),
          Goal.atLeast(0.8));
      Ceilings.Publish lingering = Ceilings.kafkaBatchedLingering(ctx, size);
      ctx.add(
          Workload.W2,
          "drain_vs_linger5." + size,
          "relay drain ÷ raw publish in batches of "
              + Ceilings.RELAY_BATCH
              + " with linger.ms="
              + Ceilings.KAFKA_DEFAULT_LINGER_MS
              + " (the first report's ceiling; context), "
              + sz,
          Figure.RATIO,
          drain.eventsPerSecond() / lingering.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "cpu.relay_jvm." + size,
          "CPU-ms per 1,000 events, relay JVM, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(drain.cpu().jvm(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.relay_postgres." + size,
          "CPU-ms per 1,000 events, PostgreSQL server (all processes), " + sz,
          "ms",
          CpuMeter.Usage.perThousand(drain.cpu().postgres(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.relay_broker." + size,
          "CPU-ms per 1,000 events, Kafka broker, during the drain, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(drain.cpu().broker(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.raw_jvm." + size,
          "CPU-ms per 1,000 events, raw producer JVM (ceiling), " + sz,
          "ms",
          CpuMeter.Usage.perThousand(raw.cpu().jvm(), raw.records()),
          null);
      ctx.add(
          Workload.W2,
          "cpu.raw_broker." + size,
          "CPU-ms per 1,000 events, Kafka broker, during the ceiling, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(raw.cpu().broker(), raw.records()),
          null);
      Drain locked = drain(ctx, size, Relay.ClaimMode.LOCK, false);
      ctx.add(
          Workload.W2,
          "drain_lock." + size,
          "relay drain with claimMode(LOCK), " + sz + ", backlog " + n,
          "events/s",
          locked.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_lock_vs_raw." + size,
          "relay drain with claimMode(LOCK) ÷ raw confirmed publish in batches of "
              + Ceilings.RELAY_BATCH
              + ", "
              + sz,
          Figure.RATIO,
          locked.eventsPerSecond() / raw.eventsPerSecond(),
          Goal.atLeast(0.8));
      ctx.add(
          Workload.W2,
          "cpu.lock_postgres." + size,
          "CPU-ms per 1,000 events, PostgreSQL server, drain with claimMode(LOCK), " + sz,
          "ms",
          CpuMeter.Usage.perThousand(locked.cpu().postgres(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.lock_jvm." + size,
          "CPU-ms per 1,000 events, relay JVM, drain with claimMode(LOCK), " + sz,
          "ms",
          CpuMeter.Usage.perThousand(locked.cpu().jvm(), n),
          null);
      Drain lockedDeleting = drain(ctx, size, Relay.ClaimMode.LOCK, true);
      ctx.add(
          Workload.W2,
          "drain_lock_delete." + size,
          "relay drain with claimMode(LOCK) and deletePublished(true), " + sz + ", backlog " + n,
          "events/s",
          lockedDeleting.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_lock_delete_vs_raw." + size,
          "relay drain with claimMode(LOCK) and deletePublished(true) ÷ raw confirmed publish in"
              + " batches of "
              + Ceilings.RELAY_BATCH
              + ", "
              + sz,
          Figure.RATIO,
          lockedDeleting.eventsPerSecond() / raw.eventsPerSecond(),
          Goal.atLeast(0.8));
      ctx.add(
          Workload.W2,
          "cpu.lock_delete_postgres." + size,
          "CPU-ms per 1,000 events, PostgreSQL server, drain with claimMode(LOCK) and"
              + " deletePublished(true), "
              + sz,
          "ms",
          CpuMeter.Usage.perThousand(lockedDeleting.cpu().postgres(), n),
          null);
      Drain plain = PlainLoop.drain(ctx, size);
      ctx.add(
          Workload.W2,
          "plain_loop_vs_raw." + size,
          "hand-written claim–publish–delete loop without Courier (one thread) ÷ raw confirmed"
              + " publish in batches of "
              + Ceilings.RELAY_BATCH
              + " (context), "
              + sz,
          Figure.RATIO,
          plain.eventsPerSecond() / raw.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_vs_plain_loop." + size,
          "relay drain ÷ the hand-written loop (context), " + sz,
          Figure.RATIO,
          drain.eventsPerSecond() / plain.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_lock_vs_plain_loop." + size,
          "relay drain with claimMode(LOCK) ÷ the hand-written loop (context), " + sz,
          Figure.RATIO,
          locked.eventsPerSecond() / plain.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_lock_delete_vs_plain_loop." + size,
          "relay drain with claimMode(LOCK) and deletePublished(true) ÷ the hand-written loop, which"
              + " also deletes (context), "
              + sz,
          Figure.RATIO,
          lockedDeleting.eventsPerSecond() / plain.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "cpu.plain_postgres." + size,
          "CPU-ms per 1,000 events, PostgreSQL server, hand-written loop, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(plain.cpu().postgres(), n),
          null);
    }
  }

  record Drain(double eventsPerSecond, CpuMeter.Usage cpu) {}

  static Drain drain(RunContext ctx, int payloadSize) {
    return drain(ctx, payloadSize, Relay.ClaimMode.LEASE, false);
  }

  /** The W2 drain with the relay in {@code mode}, deleting confirmed rows if {@code delete}. */
  static Drain drain(RunContext ctx, int payloadSize, Relay.ClaimMode mode, boolean delete) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    String topic = env.newTopic("w2-" + payloadSize);
    HikariDataSource pool = env.freshSchema("w2", 8);
    try {
      return drain(env, pool, topic, n, payloadSize, env::checkpoint, mode, delete);
    } finally {
      env.discard(pool);
    }
  }

  /**
   * Fills {@code pool}'s Courier tables with {@code n} committed rows for {@code topic} and times
   * the relay's drain of them. The pool may be on any PostgreSQL (the peers' comparisons run it on
   * the benchmark's own instance); {@code checkpoint} runs just before the timed part.
   */
  static Drain drain(BenchEnvironment env, HikariDataSource pool, String topic, int n, int payloadSize, Runnable checkpoint) {
    return drain(env, pool, topic, n, payloadSize, checkpoint, Relay.ClaimMode.LEASE, false);
  }

  /** The same, with the relay in {@code mode}, deleting confirmed rows if {@code delete}. */
  static Drain drain(
      BenchEnvironment env,
      HikariDataSource pool,
      String topic,
      int n,
      int payloadSize,
      Runnable checkpoint,
      Relay.ClaimMode mode,
      boolean delete) {
    {
      fill(pool, topic, n, payloadSize);
      // A backlog that built up in production would have been analysed by autovacuum long ago.
      BenchEnvironment.vacuumAnalyze(pool, "courier_outbox");
      checkpoint.run();
      MeterRegistry registry = new SimpleMeterRegistry();
      try (KafkaTransport transport =
          KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build()) {
        warmUp(transport, topic, payloadSize);
        Relay relay = Relay.builder(pool, transport).meterRegistry(registry).claimMode(mode).deletePublished(delete).build();
        CpuMeter cpu = CpuMeter.start(env.kafka().pid());
        long start = System.nanoTime();
        relay.start();
        long deadline = start + Duration.ofSeconds(Math.max(300, n / 200)).toNanos();
        try {
          while (published(registry) < n) {
            if (System.nanoTime() - deadline > 0) {
              throw new IllegalStateException(
                  "the relay published " + published(registry) + " of " + n + " rows before the deadline");
            }
            failIfDead(registry);
            Thread.sleep(1);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while draining", e);
        }
        long took = System.nanoTime() - start;
        CpuMeter.Usage used = cpu.stop();
        relay.close();
        // No loss: every row of the backlog is marked published (the warm-up events never were rows).
        // (or, for a relay that deletes confirmed rows, none is left)
        long pending =
            BenchEnvironment.count(
                pool,
                delete
                    ? "SELECT count(*) FROM courier_outbox"
                    : "SELECT count(*) FROM courier_outbox WHERE status <> 'PUBLISHED'");
        if (pending != 0) {
          throw new IllegalStateException(
              "W2: " + pending + (delete ? " rows are left" : " rows are not PUBLISHED") + " after the drain");
        }
        log.info(
            "W2 drained {} rows of {} B in {} ms ({}{})",
            n,
            payloadSize,
            took / 1_000_000,
            mode,
            delete ? ", deleting" : "");
        return new Drain(n / (took / 1e9), used);
      }
    }
  }

  /** Commits the backlog through Courier's outbox, {@value #FILL_BATCH} events a transaction; untimed. */
  static void fill(HikariDataSource pool, String topic, int n, int payloadSize) {
    Outbox outbox = Outbox.builder().build();
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      List<Event.Builder> batch = new ArrayList<>(FILL_BATCH);
      for (int i = 0; i < n; i++) {
        batch.add(BenchEvents.event(topic, BenchEvents.orderId(0, i), BenchEvents.payload(payloadSize, i)));
        if (batch.size() == FILL_BATCH || i == n - 1) {
          outbox.appendAll(c, batch);
          c.commit();
          batch.clear();
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot fill the W2 backlog: " + e.getMessage(), e);
    }
  }

  /** Connects the producer and fetches the topic's metadata before timing, as the ceiling does. */
  private static void warmUp(KafkaTransport transport, String topic, int payloadSize) {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < Ceilings.RELAY_BATCH; i++) {
      events.add(BenchEvents.event(topic, BenchEvents.orderId(1, i), BenchEvents.payload(payloadSize, -i)).build());
    }
    for (PublishResult r : transport.publish(events, Duration.ofSeconds(30))) {
      if (!(r instanceof PublishResult.Confirmed)) {
        throw new IllegalStateException("the warm-up publish failed: " + r);
      }
    }
  }

  static double published(MeterRegistry registry) {
    double sum = 0;
    for (Counter c : registry.find(CourierMetrics.RELAY_PUBLISHED).counters()) {
      sum += c.count();
    }
    return sum;
  }

  static void failIfDead(MeterRegistry registry) {
    for (Counter c : registry.find(CourierMetrics.RELAY_DEAD).counters()) {
      if (c.count() > 0) {
        throw new IllegalStateException("the relay parked rows as dead during the drain; see the log");
      }
    }
  }
}
