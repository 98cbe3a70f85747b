package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.nats.JetStreamTransport;
import dev.courier.outbox.Outbox;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.relay.Relay;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import dev.courier.metrics.CourierMetrics;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.HdrHistogram.Histogram;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * W3: latency from a business transaction to the consumer's committed effect, at a constant rate,
 * through the whole guaranteed path: {@link Outbox#append} woken relay ({@code onAppend(relay::wakeup)}),
 * a transport, {@link IdempotentProcessor} behind the transport's {@code subscribe}. In {@code LEASE}
 * mode it runs on each broker ({@link #KAFKA}, {@link #RABBITMQ}, {@link #JETSTREAM}) for the same
 * time, and reports on each the consumer's share at p50: the p50 less the relay lag's p50 (append →
 * broker confirmed, from the relay's own timer). Log mode, the loaded runs and the experiment run on
 * Kafka.
 *
 * <p>The writer is open-loop: transaction {@code i} is due at {@code start + i / rate}, whether or
 * not the previous ones finished, and its latency is measured from that intended time (carried in
 * the payload) to the consumer's after-commit hook. A writer that falls behind therefore shows its
 * delay in the histogram instead of hiding it (coordinated omission).
 */
final class EndToEnd {
  private static final Logger log = LoggerFactory.getLogger(EndToEnd.class);
  static final int PAYLOAD = 256;
  private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(2);

  private EndToEnd() {}

  /**
   * @param intended from the intended send time, coordinated omission corrected
   * @param fromCommit from the moment the writer's commit returned (context; not corrected)
   * @param events events recorded
   */
  record Result(Histogram intended, Histogram fromCommit, long events, MeterRegistry registry) {}

  /**
   * A broker W3 runs through.
   *
   * @param key the prefix of its figures' ids ({@code rabbitmq.p50}); Kafka's figures keep the
   *     unprefixed ids they had before W3 measured other brokers, but for {@code
   *     kafka.consumer_share.p50}
   * @param label its name in figure labels and logs
   * @param answers whether the broker is there to measure; one that is not is skipped with a warning
   * @param opener Courier's transport to it, and a destination of its own for one measurement
   */
  record Broker(String key, String label, BooleanSupplier answers, Opener opener) {}

  /** Opens a {@link Route} for one measurement whose consumer is named {@code consumer}. */
  @FunctionalInterface
  interface Opener {
    Route open(BenchEnvironment env, String consumer);
  }

  /**
   * Courier's transport to a broker and the destination one measurement writes to and consumes;
   * {@link #close()} closes the transport with the subscriptions it started, then runs {@code
   * removal}, which deletes what the measurement declared on the broker.
   */
  record Route(Transport transport, String destination, Runnable removal) implements AutoCloseable {
    @Override
    public void close() {
      try {
        transport.close();
      } finally {
        removal.run();
      }
    }
  }

  /** The benchmark's embedded Kafka broker: a fresh topic of {@link BenchEnvironment#newTopic}'s partitions. */
  static final Broker KAFKA =
      new Broker(
          "kafka",
          "Kafka",
          () -> true,
          (env, consumer) -> {
            String topic = env.newTopic("w3");
            return new Route(KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build(), topic, () -> {});
          });

  /** The machine's RabbitMQ: an exchange and the consumer's quorum queue, declared before the relay publishes. */
  static final Broker RABBITMQ =
      new Broker(
          "rabbitmq",
          "RabbitMQ",
          Brokers::rabbitAnswers,
          (env, consumer) -> {
            String exchange = "bench-w3-" + UUID.randomUUID().toString().substring(0, 8);
            RabbitMqTransport transport = Brokers.rabbitTransport("courier-bench-w3");
            String queue = RabbitMqTransport.queueName(exchange, consumer);
            Route route = new Route(transport, exchange, () -> Brokers.deleteRabbitTopology(exchange, queue));
            try {
              transport.declareTopology(exchange, consumer);
            } catch (RuntimeException e) {
              route.close();
              throw e;
            }
            return route;
          });

  /** The machine's NATS server: a subject with a JetStream stream of its own. */
  static final Broker JETSTREAM =
      new Broker(
          "nats",
          "NATS JetStream",
          Brokers::natsAnswers,
          (env, consumer) -> {
            String subject = "bench-w3-" + UUID.randomUUID().toString().substring(0, 8);
            JetStreamTransport transport = Brokers.jetStreamTransport("courier-bench-w3");
            String stream = transport.streamName(subject);
            Route route = new Route(transport, subject, () -> Brokers.deleteStream(stream));
            try {
              transport.ensureStream(subject);
            } catch (RuntimeException e) {
              route.close();
              throw e;
            }
            return route;
          });

  static void run(RunContext ctx) {
    Result r = measure(ctx, KAFKA, false, Relay.ClaimMode.LEASE);
    String rate = String.format(java.util.Locale.ROOT, "%.0f/s", ctx.options().e2eRate());
    Histogram h = r.intended();
    ctx.add(Workload.W3, "p50", "commit → committed effect p50 at " + rate, "ms", ms(h.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, "p99", "commit → committed effect p99 at " + rate, "ms", ms(h.getValueAtPercentile(99)), Goal.atMost(15));
    ctx.add(Workload.W3, "p99.9", "commit → committed effect p99.9 at " + rate, "ms", ms(h.getValueAtPercentile(99.9)), null);
    ctx.add(Workload.W3, "max", "commit → committed effect max at " + rate, "ms", ms(h.getMaxValue()), null);
    Histogram c = r.fromCommit();
    ctx.add(Workload.W3, "commit.p50", "after the writer's commit returned → effect p50 (context)", "ms", ms(c.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, "commit.p99", "after the writer's commit returned → effect p99 (context)", "ms", ms(c.getValueAtPercentile(99)), null);
    ctx.add(Workload.W3, "events", "events measured", "events", r.events(), null);
    // Where the time goes, from the relay's own timers (warm-up included): append → broker
    // confirmation, and one batch's send → last confirmation.
    stage(ctx, r.registry(), CourierMetrics.RELAY_LAG, "relay_lag", "relay lag (append → broker confirmed)");
    stage(ctx, r.registry(), CourierMetrics.RELAY_PUBLISH_LATENCY, "publish", "relay publish (batch sent → confirmed)");
    consumerShare(ctx, KAFKA, r, rate);
    for (Broker b : List.of(RABBITMQ, JETSTREAM)) {
      if (b.answers().getAsBoolean()) {
        onBroker(ctx, b, rate);
      } else {
        log.warn("{} does not answer: its W3 figures are skipped", b.label());
      }
    }
    Result logMode = measure(ctx, KAFKA, false, Relay.ClaimMode.LOG);
    Histogram l = logMode.intended();
    String inLog = " at " + rate + ", log mode";
    ctx.add(Workload.W3, "log.p50", "commit → committed effect p50" + inLog, "ms", ms(l.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, "log.p99", "commit → committed effect p99" + inLog, "ms", ms(l.getValueAtPercentile(99)), Goal.atMost(10));
    ctx.add(Workload.W3, "log.p99.9", "commit → committed effect p99.9" + inLog, "ms", ms(l.getValueAtPercentile(99.9)), null);
    ctx.add(Workload.W3, "log.max", "commit → committed effect max" + inLog, "ms", ms(l.getMaxValue()), null);
    stage(ctx, logMode.registry(), CourierMetrics.RELAY_LAG, "log.relay_lag", "relay lag (append → broker confirmed), log mode");
    for (int percent : ctx.options().e2eLoads()) {
      loaded(ctx, percent);
    }
    if (ctx.options().e2eExperiment()) {
      Result x = measure(ctx, KAFKA, true, Relay.ClaimMode.LEASE);
      String what = " (experiment: relay.wakeup() called after the commit, no append hook)";
      ctx.add(Workload.W3, "experiment.p50", "p50" + what, "ms", ms(x.intended().getValueAtPercentile(50)), null);
      ctx.add(Workload.W3, "experiment.p99", "p99" + what, "ms", ms(x.intended().getValueAtPercentile(99)), null);
      ctx.add(Workload.W3, "experiment.p99.9", "p99.9" + what, "ms", ms(x.intended().getValueAtPercentile(99.9)), null);
      stage(ctx, x.registry(), CourierMetrics.RELAY_LAG, "experiment.relay_lag", "relay lag" + what);
    }
  }

  /**
   * W3 in {@code LEASE} mode through {@code b}, measured as long as Kafka's run: the same writer,
   * relay and idempotent consumer, only the transport differs.
   */
  private static void onBroker(RunContext ctx, Broker b, String rate) {
    Result r = measure(ctx, b, false, Relay.ClaimMode.LEASE);
    Histogram h = r.intended();
    String at = " at " + rate + ", " + b.label();
    ctx.add(Workload.W3, b.key() + ".p50", "commit → committed effect p50" + at, "ms", ms(h.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, b.key() + ".p99", "commit → committed effect p99" + at, "ms", ms(h.getValueAtPercentile(99)), null);
    // beside p50, shows whether the writer kept to its schedule (if not, its delay is in the share)
    ctx.add(
        Workload.W3,
        b.key() + ".commit.p50",
        "after the writer's commit returned → effect p50 (context)" + at,
        "ms",
        ms(r.fromCommit().getValueAtPercentile(50)),
        null);
    stage(ctx, r.registry(), CourierMetrics.RELAY_LAG, b.key() + ".relay_lag", "relay lag (append → broker confirmed), " + b.label());
    consumerShare(ctx, b, r, rate);
  }

  /**
   * What the consumer adds at p50 over the relay's confirm: the p50 from commit to committed effect
   * less the p50 of the relay's own lag timer (append → broker confirmed). The difference also holds
   * the time from an event's due time to its append: the writer's insert of its business row, a
   * fraction of a millisecond, and any delay of a writer that fell behind its schedule.
   */
  private static void consumerShare(RunContext ctx, Broker b, Result r, String rate) {
    double lag = percentileMs(r.registry(), CourierMetrics.RELAY_LAG, 0.5);
    if (Double.isNaN(lag)) {
      return;
    }
    ctx.add(
        Workload.W3,
        b.key() + ".consumer_share.p50",
        "consumer's share at p50: commit → committed effect p50 − relay lag p50, at " + rate + ", " + b.label(),
        "ms",
        ms(r.intended().getValueAtPercentile(50)) - lag,
        Goal.atMost(2));
  }

  /** Writer threads of the loaded runs, and the most transactions per second they are asked for. */
  static final int LOADED_WRITERS = 4;
  static final int LOADED_MAX_TX_PER_SECOND = 1_000;

  /**
   * W3 at {@code percent}% of the relay's drain rate, on the benchmark's own PostgreSQL ({@link
   * BenchEnvironment#logicalPostgres()}, autovacuum on, as in a deployment): the relay's drain of
   * W2's backlog of {@value #PAYLOAD} B rows measured on that instance in this run ({@link
   * #referenceDrain}), offered by {@value #LOADED_WRITERS} open-loop writers whose transactions
   * each commit as many business rows and events as it takes to stay at or below {@value
   * #LOADED_MAX_TX_PER_SECOND} transactions per second (one writer committing one event at a time
   * cannot offer thousands of events per second). The end point is the record's arrival at a plain
   * consumer ({@link ArrivalClock}): the idempotent consumer applies one event per transaction,
   * about a thousand per second here (W4), far below these rates, so its committed effect would
   * time the consumer's queue, not Courier's relay.
   *
   * <p>Why not the shared server: at 80% its writers commit several hundred thousand rows in the
   * measured window, and with autovacuum off (this machine's configuration) every row the relay
   * leases and marks leaves dead versions that nothing removes; the marks then read thousands of
   * pages per batch and the drain collapses, which measures the missing vacuum, not the relay.
   */
  private static void loaded(RunContext ctx, int percent) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    BenchEnvironment.LogicalPostgres pg = env.logicalPostgres();
    double drain = referenceDrain(ctx, pg);
    double rate = drain * percent / 100.0;
    int perTransaction = (int) Math.max(1, Math.ceil(rate / LOADED_MAX_TX_PER_SECOND));
    String topic = env.newTopic("w3-load" + percent);
    HikariDataSource pool = pg.freshSchema("w3_load", LOADED_WRITERS + 6);
    ArrivalClock.Loaded r;
    try {
      r = CourierArrival.measureLoaded(env, pool, topic, rate, o, LOADED_WRITERS, perTransaction);
    } finally {
      pg.discard(pool);
    }
    String at =
        String.format(
            java.util.Locale.ROOT,
            "at %d%% of the drain (%,.0f/s; %d writers, %d event%s a transaction)",
            percent, rate, LOADED_WRITERS, perTransaction, perTransaction == 1 ? "" : "s");
    String id = "load" + percent + ".";
    Histogram h = r.latency();
    ctx.add(Workload.W3, id + "p50", "commit → record at a consumer p50 " + at, "ms", ms(h.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, id + "p99", "commit → record at a consumer p99 " + at, "ms", ms(h.getValueAtPercentile(99)), null);
    ctx.add(Workload.W3, id + "p99.9", "commit → record at a consumer p99.9 " + at, "ms", ms(h.getValueAtPercentile(99.9)), null);
    Histogram s = r.fromStart();
    ctx.add(Workload.W3, id + "start.p50", "writer's transaction start → record at a consumer p50 (context) " + at, "ms", ms(s.getValueAtPercentile(50)), null);
    ctx.add(Workload.W3, id + "start.p99", "writer's transaction start → record at a consumer p99 (context) " + at, "ms", ms(s.getValueAtPercentile(99)), null);
    ctx.add(Workload.W3, id + "achieved", "events/s the writers committed ÷ offered, " + at, Figure.RATIO, r.achievedRate() / r.offeredRate(), null);
    ctx.add(
        Workload.W3,
        id + "delivered",
        "events/s delivered (first due → last arrival) ÷ offered; below 1: the relay fell behind, " + at,
        Figure.RATIO,
        r.deliveredRate() / r.offeredRate(),
        null);
  }

  /**
   * The relay's drain of W2's backlog of {@value #PAYLOAD} B rows on {@code pg}, measured once per
   * run and reported beside W2's drain on the shared server.
   */
  private static double referenceDrain(RunContext ctx, BenchEnvironment.LogicalPostgres pg) {
    return ctx.shared(
        "w3.reference-drain",
        () -> {
          BenchEnvironment env = ctx.env();
          String topic = env.newTopic("w3-ref");
          HikariDataSource pool = pg.freshSchema("w3_ref", 8);
          try {
            double rate =
                RelayDrain.drain(env, pool, topic, ctx.options().backlog(), PAYLOAD, pg::checkpoint).eventsPerSecond();
            ctx.add(
                Workload.W3,
                "reference_drain",
                "relay drain the loaded runs are a share of: W2's backlog, " + PAYLOAD + " B, on the benchmark's own PostgreSQL",
                "events/s",
                rate,
                null);
            return rate;
          } finally {
            pg.discard(pool);
          }
        });
  }

  private static void stage(RunContext ctx, MeterRegistry registry, String meter, String id, String label) {
    Timer t = registry.find(meter).timer();
    if (t == null) {
      return;
    }
    for (ValueAtPercentile p : t.takeSnapshot().percentileValues()) {
      String pct = p.percentile() == 0.5 ? "p50" : "p99";
      ctx.add(Workload.W3, id + "." + pct, label + " " + pct + " (context)", "ms", p.value(TimeUnit.MICROSECONDS) / 1000.0, null);
    }
  }

  /** The {@code percentile} (0.5 or 0.99) of the timer {@code meter} in ms, NaN if there is none. */
  private static double percentileMs(MeterRegistry registry, String meter, double percentile) {
    Timer t = registry.find(meter).timer();
    if (t == null) {
      return Double.NaN;
    }
    for (ValueAtPercentile p : t.takeSnapshot().percentileValues()) {
      if (p.percentile() == percentile) {
        return p.value(TimeUnit.MICROSECONDS) / 1000.0;
      }
    }
    return Double.NaN;
  }

  /**
   * A registry that keeps p50 and p99 of every timer, so the relay's stages can be reported; to two
   * significant digits (Micrometer's default of one rounds up by as much as 6%, a few tenths of a
   * millisecond at W3's relay lag: too coarse for a consumer's share held to 2 ms).
   */
  private static MeterRegistry stagesRegistry() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    registry
        .config()
        .meterFilter(
            new MeterFilter() {
              @Override
              public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
                return DistributionStatisticConfig.builder()
                    .percentiles(0.5, 0.99)
                    .percentilePrecision(2)
                    .build()
                    .merge(config);
              }
            });
    return registry;
  }

  private static double ms(long micros) {
    return micros / 1000.0;
  }

  /**
   * @param broker the broker the events travel through, on a destination of their own
   * @param experiment false for Courier as documented (relay woken by {@code onAppend}, transport
   *     defaults); true for the alternative the README also documents: the writer calls {@code
   *     relay.wakeup()} itself after its commit
   * @param mode the relay's claim mode; in {@link Relay.ClaimMode#LOG} the outbox is turned to log
   *     mode first
   */
  static Result measure(RunContext ctx, Broker broker, boolean experiment, Relay.ClaimMode mode) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    String consumer = "bench-e2e-" + ctx.run();
    HikariDataSource pool = env.freshSchema("w3", 10);
    if (mode == Relay.ClaimMode.LOG) {
      Schema.enableLogMode(pool, CourierTables.DEFAULT);
    }
    MeterRegistry registry = stagesRegistry();
    Histogram intended = new Histogram(HIGHEST_MICROS, 3);
    Histogram fromCommit = new Histogram(HIGHEST_MICROS, 3);
    ConcurrentHashMap<java.util.UUID, Long> committedAt = new ConcurrentHashMap<>();
    AtomicLong recorded = new AtomicLong();
    AtomicLong effects = new AtomicLong();
    // Events due before this time are warm-up: applied, but not recorded.
    AtomicLong recordFrom = new AtomicLong();
    java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    try (Route route = broker.opener().open(env, consumer)) {
      Transport transport = route.transport();
      String topic = route.destination();
      Relay relay = Relay.builder(pool, transport).meterRegistry(registry).claimMode(mode).build();
      Outbox outbox =
          experiment ? Outbox.builder().build() : Outbox.builder().onAppend(relay::wakeup).build();
      IdempotentProcessor processor = effectProcessor(consumer, pool);
      SubscriptionSpec spec =
          SubscriptionSpec.of(topic)
              .withAfterCommit(
                  event -> {
                    long now = System.nanoTime();
                    long due = BenchEvents.stamp(event.payload());
                    effects.incrementAndGet();
                    if (armed.get() && due - recordFrom.get() >= 0) {
                      // Every transport runs the hook on its subscription's one thread: no other writer.
                      intended.recordValue(Math.min(HIGHEST_MICROS, Math.max(0, (now - due) / 1000)));
                      Long committed = committedAt.remove(event.id());
                      if (committed != null) {
                        fromCommit.recordValue(Math.min(HIGHEST_MICROS, Math.max(0, (now - committed) / 1000)));
                      }
                      recorded.incrementAndGet();
                    } else {
                      committedAt.remove(event.id());
                    }
                  });
      relay.start();
      Subscription subscription = transport.subscribe(spec, processor);
      try {
        awaitFirstDelivery(pool, outbox, topic, effects);
        long periodNanos = Math.round(1e9 / o.e2eRate());
        long warm = o.e2eWarmup().toNanos() / periodNanos;
        long measured = o.e2eDuration().toNanos() / periodNanos;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        recordFrom.set(start + warm * periodNanos);
        armed.set(true);
        long total = warm + measured;
        try (Connection c = pool.getConnection()) {
          c.setAutoCommit(false);
          for (long i = 0; i < total; i++) {
            Event e = writeWhenDue(c, outbox, topic, i, start + i * periodNanos);
            committedAt.put(e.id(), System.nanoTime());
            if (experiment) {
              relay.wakeup();
            }
          }
        }
        long expected = total + 1;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (effects.get() < expected && System.nanoTime() - deadline < 0) {
          Thread.sleep(5);
        }
        if (effects.get() < expected) {
          throw new IllegalStateException(
              "W3 through "
                  + broker.label()
                  + ": only "
                  + effects.get()
                  + " of "
                  + expected
                  + " effects committed within 60 s of the last write");
        }
      } finally {
        subscription.close();
        relay.close();
      }
      log.info("W3 recorded {} events at {}/s through {}", recorded.get(), o.e2eRate(), broker.label());
      return new Result(intended, fromCommit, recorded.get(), registry);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException("W3 writer failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      env.discard(pool);
    }
  }

  /** The consumer of W3 and the soak: one effect row per event, recorded in the ledger of {@code name}. */
  static IdempotentProcessor effectProcessor(String name, HikariDataSource pool) {
    return IdempotentProcessor.builder(name, pool, (event, connection) -> BenchEvents.insertEffect(connection, event.id(), 1))
        .build();
  }

  /**
   * The open-loop writer's step: waits until {@code due} (never returns early; a writer that is
   * late goes at once), then commits business row {@code i} and its event in one transaction on
   * {@code c} (auto-commit off). The event's payload carries {@code due}, the time latency is
   * measured from.
   */
  static Event writeWhenDue(Connection c, Outbox outbox, String topic, long i, long due) throws java.sql.SQLException {
    ArrivalClock.awaitDue(due);
    long orderId = BenchEvents.orderId(2, i);
    BenchEvents.insertOrder(c, orderId);
    Event e = outbox.append(c, BenchEvents.event(topic, orderId, BenchEvents.stampedPayload(PAYLOAD, due)));
    c.commit();
    return e;
  }

  /** Writes one event and waits until the consumer applied it: the group has joined, every path is warm. */
  static void awaitFirstDelivery(HikariDataSource pool, Outbox outbox, String topic, AtomicLong effects)
      throws java.sql.SQLException, InterruptedException {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      long orderId = BenchEvents.orderId(3, 0);
      BenchEvents.insertOrder(c, orderId);
      outbox.append(c, BenchEvents.event(topic, orderId, BenchEvents.stampedPayload(PAYLOAD, System.nanoTime())));
      c.commit();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (effects.get() < 1) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("W3: the consumer did not apply the first event within 60 s");
      }
      Thread.sleep(5);
    }
  }
}
