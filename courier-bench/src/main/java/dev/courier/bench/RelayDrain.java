package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxStatus;
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
 * drain a backlog that is already committed, in each claim configuration, divided by the Kafka
 * ceiling (the backlog's records published fully pipelined by a plain producer, W0) and by the
 * hand-written claim–publish–delete loop at its best setting ({@link PlainLoop}), both measured in
 * the same run.
 */
final class RelayDrain {
  private static final Logger log = LoggerFactory.getLogger(RelayDrain.class);
  private static final int FILL_BATCH = 1000;

  /**
   * One way to run the relay in W2.
   *
   * @param id the figures' id prefix
   * @param label what the figures' labels call it
   * @param mode the relay's claim mode
   * @param delete whether the relay deletes confirmed rows
   * @param vsLoop the goal of its drain ÷ the best loop, or {@code null} for context
   */
  record Configuration(String id, String label, Relay.ClaimMode mode, boolean delete, Goal vsLoop) {}

  /** Log mode, one relay. */
  static final Configuration LOG =
      new Configuration(
          "drain_log",
          "relay drain, claimMode(LOG) (log mode, " + Schema.DEFAULT_LOG_PARTITIONS + " partitions)",
          Relay.ClaimMode.LOG,
          false,
          Goal.atLeast(1.5));

  /** How many log-mode relays share the outbox in the scale-out figure. */
  static final int SHARING_RELAYS = 3;

  /** Every configuration W2 measures, in the order it measures them; the first is the default. */
  static final List<Configuration> CONFIGURATIONS =
      List.of(
          new Configuration("drain", "relay drain, defaults (claimMode LEASE)", Relay.ClaimMode.LEASE, false, null),
          new Configuration("drain_lock", "relay drain, claimMode(LOCK)", Relay.ClaimMode.LOCK, false, null),
          new Configuration(
              "drain_lock_delete",
              "relay drain, claimMode(LOCK) + deletePublished(true)",
              Relay.ClaimMode.LOCK,
              true,
              null),
          LOG);

  /** The goal of every configuration's drain ÷ the Kafka ceiling (issue 7). */
  static final Goal VS_CEILING = Goal.atLeast(0.8);

  private RelayDrain() {}

  static void run(RunContext ctx) {
    int n = ctx.options().backlog();
    for (int size : ctx.options().payloadSizes()) {
      String sz = size + " B";
      Ceilings.Publish ceiling = Ceilings.kafka(ctx, size);
      List<Drain> drains = new ArrayList<>();
      for (Configuration c : CONFIGURATIONS) {
        drains.add(drain(ctx, size, c));
      }
      Drain shared = drainShared(ctx, size, SHARING_RELAYS);
      PlainLoop.Best loop = PlainLoop.best(ctx, size);
      for (int i = 0; i < CONFIGURATIONS.size(); i++) {
        Configuration c = CONFIGURATIONS.get(i);
        Drain d = drains.get(i);
        ctx.add(Workload.W2, c.id() + "." + size, c.label() + ", " + sz + ", backlog " + n, "events/s", d.eventsPerSecond(), null);
        ctx.add(
            Workload.W2,
            c.id() + "_vs_ceiling." + size,
            c.label() + " ÷ Kafka ceiling, " + sz,
            Figure.RATIO,
            d.eventsPerSecond() / ceiling.eventsPerSecond(),
            VS_CEILING);
        ctx.add(
            Workload.W2,
            c.id() + "_vs_loop." + size,
            c.label() + " ÷ the best hand-written loop" + (c.vsLoop() == null ? " (context)" : "") + ", " + sz,
            Figure.RATIO,
            d.eventsPerSecond() / loop.drain().eventsPerSecond(),
            c.vsLoop());
      }
      Drain single = drains.get(CONFIGURATIONS.indexOf(LOG));
      ctx.add(
          Workload.W2,
          "drain_log_shared." + size,
          "relay drain, log mode, " + SHARING_RELAYS + " relays sharing " + Schema.DEFAULT_LOG_PARTITIONS + " partitions, " + sz,
          "events/s",
          shared.eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "drain_log_shared_vs_one." + size,
          "log mode, " + SHARING_RELAYS + " relays ÷ one relay, " + sz,
          Figure.RATIO,
          shared.eventsPerSecond() / single.eventsPerSecond(),
          Goal.atLeast(1.0));
      ctx.add(
          Workload.W2,
          "plain_loop." + size,
          "hand-written claim–publish–delete loop (no Courier), fastest setting of the run, " + sz,
          "events/s",
          loop.drain().eventsPerSecond(),
          null);
      ctx.add(
          Workload.W2,
          "plain_loop.claim." + size,
          "the fastest loop's claim, " + sz,
          "rows",
          loop.setting().claim(),
          null);
      ctx.add(
          Workload.W2,
          "plain_loop.linger_ms." + size,
          "the fastest loop's linger.ms, " + sz,
          "ms",
          loop.setting().lingerMs(),
          null);
      ctx.add(
          Workload.W2,
          "plain_loop_vs_ceiling." + size,
          "the best hand-written loop ÷ Kafka ceiling (context), " + sz,
          Figure.RATIO,
          loop.drain().eventsPerSecond() / ceiling.eventsPerSecond(),
          null);
      for (int i = 0; i < CONFIGURATIONS.size(); i++) {
        Configuration c = CONFIGURATIONS.get(i);
        Drain d = drains.get(i);
        ctx.add(
            Workload.W2,
            "cpu." + c.id() + ".postgres." + size,
            "CPU-ms per 1,000 events, PostgreSQL server (all processes), " + c.label() + ", " + sz,
            "ms",
            CpuMeter.Usage.perThousand(d.cpu().postgres(), n),
            null);
        ctx.add(
            Workload.W2,
            "cpu." + c.id() + ".jvm." + size,
            "CPU-ms per 1,000 events, relay JVM, " + c.label() + ", " + sz,
            "ms",
            CpuMeter.Usage.perThousand(d.cpu().jvm(), n),
            null);
      }
      ctx.add(
          Workload.W2,
          "cpu.plain_loop.postgres." + size,
          "CPU-ms per 1,000 events, PostgreSQL server, the best hand-written loop, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(loop.drain().cpu().postgres(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.drain.broker." + size,
          "CPU-ms per 1,000 events, Kafka broker, during the default relay's drain, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(drains.getFirst().cpu().broker(), n),
          null);
      ctx.add(
          Workload.W2,
          "cpu.ceiling.jvm." + size,
          "CPU-ms per 1,000 events, producer JVM, Kafka ceiling, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(ceiling.cpu().jvm(), ceiling.records()),
          null);
      ctx.add(
          Workload.W2,
          "cpu.ceiling.broker." + size,
          "CPU-ms per 1,000 events, Kafka broker, Kafka ceiling, " + sz,
          "ms",
          CpuMeter.Usage.perThousand(ceiling.cpu().broker(), ceiling.records()),
          null);
      StandaloneRelay.run(ctx, size);
      if (loop.points().size() > 1) {
        for (PlainLoop.Point p : loop.points()) {
          ctx.add(
              Workload.W2,
              "plain_loop.sweep." + p.setting().id() + "." + size,
              "sweep point: hand-written loop, " + sz + ", " + p.setting().label(),
              "events/s",
              p.drain().eventsPerSecond(),
              null);
        }
      }
    }
  }

  record Drain(double eventsPerSecond, CpuMeter.Usage cpu) {}

  /**
   * The W2 drain of a fresh log-mode outbox by {@code relays} relays sharing its partitions, each
   * with its own producer. Per-key order across them is checked by the chaos suite's log-mode
   * scenarios (three relays, sixteen partitions), not here.
   */
  static Drain drainShared(RunContext ctx, int payloadSize, int relays) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("w2-shared-" + payloadSize);
    HikariDataSource pool = env.freshSchema("w2", 8 * relays);
    try {
      return drain(env, pool, topic, ctx.options().backlog(), payloadSize, env::checkpoint, Relay.ClaimMode.LOG, false, relays);
    } finally {
      env.discard(pool);
    }
  }

  /** The W2 drain of a fresh outbox by the relay in configuration {@code c}. */
  static Drain drain(RunContext ctx, int payloadSize, Configuration c) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    String topic = env.newTopic("w2-" + payloadSize);
    HikariDataSource pool = env.freshSchema("w2", 8);
    try {
      return drain(env, pool, topic, n, payloadSize, env::checkpoint, c.mode(), c.delete(), 1);
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
    return drain(env, pool, topic, n, payloadSize, checkpoint, Relay.ClaimMode.LEASE, false, 1);
  }

  /**
   * The same with the relay in {@code mode}, deleting confirmed rows if {@code delete}, and {@code
   * relays} relays sharing the outbox, each with its own transport (its own producer), as separate
   * relay processes would; the drain ends when all of them together have published the backlog.
   */
  static Drain drain(
      BenchEnvironment env,
      HikariDataSource pool,
      String topic,
      int n,
      int payloadSize,
      Runnable checkpoint,
      Relay.ClaimMode mode,
      boolean delete,
      int relays) {
    {
      if (mode == Relay.ClaimMode.LOG) {
        // on the empty outbox, before the backlog is written, as an operator turns it on
        Schema.enableLogMode(pool, CourierTables.DEFAULT);
      }
      fill(pool, topic, n, payloadSize);
      // A backlog that built up in production would have been analysed by autovacuum long ago.
      BenchEnvironment.vacuumAnalyze(pool, "courier_outbox");
      checkpoint.run();
      MeterRegistry registry = new SimpleMeterRegistry();
      List<KafkaTransport> transports = new ArrayList<>();
      List<Relay> started = new ArrayList<>();
      try {
        for (int i = 0; i < relays; i++) {
          KafkaTransport transport = KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build();
          transports.add(transport);
          warmUp(transport, topic, payloadSize);
        }
        List<Relay> relayList = new ArrayList<>();
        for (int i = 0; i < relays; i++) {
          Relay.Builder b = Relay.builder(pool, transports.get(i)).meterRegistry(registry).claimMode(mode).deletePublished(delete);
          relayList.add(relays == 1 ? b.build() : b.relayId("bench-relay-" + i).build());
        }
        CpuMeter cpu = CpuMeter.start(env.kafka().pid());
        long start = System.nanoTime();
        for (Relay r : relayList) {
          r.start();
          started.add(r);
        }
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
        for (Relay r : started) {
          r.close();
        }
        started.clear();
        // No loss: every row of the backlog is marked published (the warm-up events never were
        // rows), or, for a relay that deletes confirmed rows, none is left; in log mode, where no
        // row is written on the way, the outbox's own status counts what its cursors have not passed.
        if (mode == Relay.ClaimMode.LOG) {
          OutboxStatus status = new OutboxAdmin(pool, CourierTables.DEFAULT).status();
          if (status.pending() != 0 || status.dead() != 0) {
            throw new IllegalStateException(
                "W2 (log mode): " + status.pending() + " rows pending and " + status.dead() + " dead after the drain");
          }
        } else {
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
        }
        log.info(
            "W2 drained {} rows of {} B in {} ms ({}{}{})",
            n,
            payloadSize,
            took / 1_000_000,
            mode,
            delete ? ", deleting" : "",
            relays == 1 ? "" : ", " + relays + " relays");
        return new Drain(n / (took / 1e9), used);
      } finally {
        for (Relay r : started) {
          r.close();
        }
        for (KafkaTransport t : transports) {
          t.close();
        }
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
