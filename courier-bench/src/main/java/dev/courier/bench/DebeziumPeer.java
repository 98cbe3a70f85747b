package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.relay.Relay;
import dev.courier.bench.debezium.DebeziumClassLoader;
import java.util.function.Supplier;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Debezium peer: the embedded engine ({@code debezium-embedded} 3.6.1.Final) with the PostgreSQL
 * connector (pgoutput) and the outbox event router reading an outbox table, and a change consumer
 * that sends each batch to Kafka and waits for every acknowledgement before it marks the batch
 * processed (what Debezium Server's Kafka sink does). It runs on the benchmark's own PostgreSQL
 * with {@code wal_level=logical} ({@link BenchEnvironment#logicalPostgres()}), and Courier's side of
 * each comparison runs on that same instance.
 *
 * <p>Debezium runs at its defaults, except what it needs to run at all: {@code plugin.name=pgoutput}
 * (its default, decoderbufs, is a server extension that this PostgreSQL does not have), {@code
 * snapshot.mode=no_data} (only changes made after the slot exists are outbox events), the names of
 * its slot, publication and table, and the outbox router's target topic. The producer is at Kafka's
 * defaults ({@code acks=all}, idempotent, {@code linger.ms=5}).
 *
 * <p>The drain: the engine is started once on the empty table (it creates its slot and records an
 * offset), stopped, the backlog is committed, and the engine is started again; timed from that
 * start to the last record of the backlog confirmed by the broker: a connector that catches up
 * after a stop, the way Courier's relay drains a backlog.
 */
final class DebeziumPeer {
  private static final Logger log = LoggerFactory.getLogger(DebeziumPeer.class);
  private static final int FILL_BATCH = 1000;
  private static final String MARKER = "marker";
  private static final AtomicLong NAMES = new AtomicLong();

  private DebeziumPeer() {}

  static void run(RunContext ctx) {
    BenchEnvironment env = ctx.env();
    BenchEnvironment.LogicalPostgres pg = env.logicalPostgres();
    int n = ctx.options().peerBacklog();
    int size = ctx.options().payloadSizes().get(0);
    String sz = size + " B";
    Workload w = Workload.DEBEZIUM;

    HikariDataSource courierPool = pg.freshSchema("dbz_courier", 8);
    RelayDrain.Drain courier;
    try {
      courier = RelayDrain.drain(env, courierPool, env.newTopic("dbz-courier"), n, size, pg::checkpoint);
    } finally {
      pg.discard(courierPool);
    }
    HikariDataSource logPool = pg.freshSchema("dbz_courier_log", 8);
    RelayDrain.Drain courierLog;
    try {
      courierLog =
          RelayDrain.drain(env, logPool, env.newTopic("dbz-courier-log"), n, size, pg::checkpoint, Relay.ClaimMode.LOG, false, 1);
    } finally {
      pg.discard(logPool);
    }
    double debezium = drain(ctx, n, size);
    ctx.add(w, "courier.drain", "Courier relay drain, backlog " + n + ", " + sz + ", on the logical-WAL PostgreSQL", "events/s", courier.eventsPerSecond(), null);
    ctx.add(w, "courier.drain_log", "Courier relay drain in log mode, backlog " + n + ", " + sz + ", on the logical-WAL PostgreSQL", "events/s", courierLog.eventsPerSecond(), null);
    ctx.add(w, "debezium.drain", "Debezium drain, backlog " + n + ", " + sz + " (start → last record confirmed)", "events/s", debezium, null);
    ctx.add(w, "drain_ratio", "Courier's drain (defaults, claimMode LEASE) ÷ Debezium's", Figure.RATIO, courier.eventsPerSecond() / debezium, Goal.atLeast(1));
    ctx.add(w, "drain_log_ratio", "Courier's drain in log mode ÷ Debezium's", Figure.RATIO, courierLog.eventsPerSecond() / debezium, Goal.atLeast(3));

    String rate = String.format(java.util.Locale.ROOT, "%.0f/s", ctx.options().e2eRate());
    HikariDataSource pool = pg.freshSchema("dbz_e2e_courier", 10);
    Histogram c;
    try {
      c = CourierArrival.measure(env, pool, env.newTopic("dbz-e2e-courier"), ctx.options());
    } finally {
      pg.discard(pool);
    }
    Histogram d = endToEnd(ctx, Map.of());
    // Context, not Debezium's defaults: the same run with the connector's poll.interval.ms (500 ms by
    // default) at 10 ms, to show how much of Debezium's latency is that wait.
    Histogram tuned = endToEnd(ctx, Map.of("poll.interval.ms", "10"));
    ctx.add(w, "courier.e2e.p50", "Courier commit → record at a consumer p50 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(50)), null);
    ctx.add(w, "courier.e2e.p99", "Courier commit → record at a consumer p99 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(99)), null);
    ctx.add(w, "debezium.e2e.p50", "Debezium commit → record at a consumer p50 at " + rate + ", its defaults", "ms", ArrivalClock.ms(d.getValueAtPercentile(50)), null);
    ctx.add(w, "debezium.e2e.p99", "Debezium commit → record at a consumer p99 at " + rate + ", its defaults", "ms", ArrivalClock.ms(d.getValueAtPercentile(99)), null);
    ctx.add(w, "tuned.e2e.p50", "Debezium commit → record at a consumer p50 at " + rate + ", poll.interval.ms=10 (context)", "ms", ArrivalClock.ms(tuned.getValueAtPercentile(50)), null);
    ctx.add(w, "tuned.e2e.p99", "Debezium commit → record at a consumer p99 at " + rate + ", poll.interval.ms=10 (context)", "ms", ArrivalClock.ms(tuned.getValueAtPercentile(99)), null);
    ctx.add(
        w,
        "e2e.p99_ratio",
        "Courier's p99 ÷ Debezium's p99",
        Figure.RATIO,
        (double) c.getValueAtPercentile(99) / Math.max(1, d.getValueAtPercentile(99)),
        Goal.atMost(0.05));
  }

  /** One outbox table with its publication, in a schema of its own. */
  private record OutboxTable(String schema, String table, String publication, String slot) {
    String qualified() {
      return schema + ".outbox";
    }
  }

  private static OutboxTable createOutbox(BenchEnvironment.LogicalPostgres pg) {
    long id = NAMES.incrementAndGet();
    OutboxTable t = new OutboxTable("dbz_" + id + "_" + System.nanoTime() % 100_000, "outbox", "dbz_pub_" + id, "dbz_slot_" + id);
    pg.execute(
        "CREATE SCHEMA " + t.schema(),
        "CREATE TABLE " + t.qualified() + " (id UUID PRIMARY KEY, aggregatetype VARCHAR(255) NOT NULL,"
            + " aggregateid VARCHAR(255) NOT NULL, type VARCHAR(255) NOT NULL, payload BYTEA)",
        "CREATE TABLE " + t.schema() + ".bench_orders (id BIGINT PRIMARY KEY, customer VARCHAR(64) NOT NULL,"
            + " amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
        "CREATE PUBLICATION " + t.publication() + " FOR TABLE " + t.qualified());
    return t;
  }

  private static void dropOutbox(BenchEnvironment.LogicalPostgres pg, OutboxTable t) {
    // the walsender of a closed engine may take a moment to let go of its slot
    for (int attempt = 0; ; attempt++) {
      try {
        pg.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + t.slot() + "'");
        break;
      } catch (IllegalStateException e) {
        if (attempt >= 50) {
          log.warn("could not drop replication slot {}: {}", t.slot(), e.getMessage());
          break;
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
    pg.execute("DROP PUBLICATION IF EXISTS " + t.publication(), "DROP SCHEMA IF EXISTS " + t.schema() + " CASCADE");
  }

  private static Properties engineProperties(
      BenchEnvironment.LogicalPostgres pg, OutboxTable t, String topic, Path offsets, boolean setup) {
    Properties p = new Properties();
    p.setProperty("name", "bench-debezium-" + t.slot());
    p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    p.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
    p.setProperty("offset.storage.file.filename", offsets.toString());
    if (setup) {
      // the set-up start only: record the offset at once, so that the measured start resumes there
      p.setProperty("offset.flush.interval.ms", "0");
    }
    p.setProperty("database.hostname", "127.0.0.1");
    p.setProperty("database.port", Integer.toString(pg.port()));
    p.setProperty("database.user", "postgres");
    p.setProperty("database.password", "");
    p.setProperty("database.dbname", "postgres");
    p.setProperty("topic.prefix", "bench");
    p.setProperty("plugin.name", "pgoutput");
    p.setProperty("slot.name", t.slot());
    p.setProperty("publication.name", t.publication());
    p.setProperty("table.include.list", t.qualified());
    p.setProperty("snapshot.mode", "no_data");
    p.setProperty("transforms", "outbox");
    p.setProperty("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter");
    p.setProperty("transforms.outbox.route.topic.replacement", topic);
    return p;
  }

  /** Debezium's class loader, built once per JVM. */
  private static DebeziumClassLoader loader;

  private static synchronized DebeziumClassLoader loader() {
    if (loader == null) {
      loader = DebeziumClassLoader.create(DebeziumPeer.class.getClassLoader());
    }
    return loader;
  }

  /**
   * A running {@link dev.courier.bench.debezium.IsolatedEngine}, which lives in {@link
   * DebeziumClassLoader} and is reached only through JDK interfaces.
   */
  private static final class Engine implements AutoCloseable {
    private final Object engine;

    Engine(Properties props, Properties producer, String topic) {
      try {
        engine =
            loader()
                .engineClass()
                .getConstructor(Properties.class, Properties.class, String.class, String.class)
                .newInstance(props, producer, topic, MARKER);
      } catch (java.lang.reflect.InvocationTargetException e) {
        throw new IllegalStateException("cannot create the Debezium engine: " + e.getCause(), e.getCause());
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot create the Debezium engine: " + e, e);
      }
    }

    /** Starts the engine (its constructor already made the producer and fetched the topic's metadata). */
    Engine start() {
      ((Runnable) engine).run();
      return this;
    }

    @SuppressWarnings("unchecked")
    private long[] state() {
      return ((Supplier<long[]>) engine).get();
    }

    long confirmed() {
      return state()[0];
    }

    long firstAt() {
      return state()[1];
    }

    @Override
    public void close() {
      try {
        ((AutoCloseable) engine).close();
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        log.warn("closing the Debezium engine: {}", e.toString());
      }
    }
  }

  /** Kafka's producer defaults ({@code acks=all}, idempotent, {@code linger.ms=5}), said explicitly. */
  private static Properties producer(BenchEnvironment env) {
    Properties p = new Properties();
    p.setProperty("bootstrap.servers", env.kafka().bootstrapServers());
    p.setProperty("acks", "all");
    p.setProperty("client.id", "bench-debezium");
    return p;
  }

  private static void insertOutbox(Connection c, String table, String topic, String key, byte[] payload) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("INSERT INTO " + table + " (id, aggregatetype, aggregateid, type, payload) VALUES (?, ?, ?, ?, ?)")) {
      ps.setObject(1, UUID.randomUUID());
      ps.setString(2, topic);
      ps.setString(3, key);
      ps.setString(4, BenchEvents.TYPE);
      ps.setBytes(5, payload);
      ps.executeUpdate();
    }
  }

  /** Starts the engine on the empty table, sees one marker record through, and stops it. */
  private static void prime(BenchEnvironment.LogicalPostgres pg, OutboxTable t, String topic, Path offsets, Properties producer)
      throws Exception {
    try (Engine setup = new Engine(engineProperties(pg, t, topic, offsets, true), producer, topic).start()) {
      waitForSlot(pg, t, setup);
      PGSimpleDataSource ds = pg.dataSource();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      // the marker is written until one comes through: the engine may still be starting its stream
      while (setup.firstAt() == 0) {
        try (Connection c = ds.getConnection()) {
          insertOutbox(c, t.qualified(), topic, MARKER, BenchEvents.stampedPayload(8, System.nanoTime()));
        }
        long wait = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (setup.firstAt() == 0 && System.nanoTime() - wait < 0) {
          setup.confirmed();
          Thread.sleep(10);
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("Debezium delivered no record within 120 s of its start");
        }
      }
      Thread.sleep(500);
    }
  }

  private static void waitForSlot(BenchEnvironment.LogicalPostgres pg, OutboxTable t, Engine engine) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (pg.count("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + t.slot() + "' AND active") == 0) {
      engine.confirmed();
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("Debezium did not open its replication slot within 120 s");
      }
      Thread.sleep(20);
    }
  }

  static double drain(RunContext ctx, int n, int payloadSize) {
    BenchEnvironment env = ctx.env();
    BenchEnvironment.LogicalPostgres pg = env.logicalPostgres();
    OutboxTable t = createOutbox(pg);
    String topic = env.newTopic("dbz");
    Path offsets = tempFile();
    try {
      Properties producer = producer(env);
      prime(pg, t, topic, offsets, producer);
      try (Connection c = pg.dataSource().getConnection()) {
        c.setAutoCommit(false);
        for (int i = 0; i < n; i++) {
          insertOutbox(c, t.qualified(), topic, BenchEvents.key(BenchEvents.orderId(0, i)), BenchEvents.payload(payloadSize, i));
          if ((i + 1) % FILL_BATCH == 0 || i == n - 1) {
            c.commit();
          }
        }
      }
      pg.checkpoint();
      long took;
      long first;
      try (Engine engine = new Engine(engineProperties(pg, t, topic, offsets, false), producer, topic)) {
        long start = System.nanoTime();
        engine.start();
        long deadline = start + TimeUnit.SECONDS.toNanos(Math.max(600, n / 100));
        while (engine.confirmed() < n) {
          if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException("Debezium confirmed " + engine.confirmed() + " of " + n + " before the deadline");
          }
          Thread.sleep(1);
        }
        took = System.nanoTime() - start;
        first = engine.firstAt() - start;
        if (engine.confirmed() != n) {
          throw new IllegalStateException("Debezium published " + engine.confirmed() + " records for a backlog of " + n);
        }
      }
      log.info("Debezium drained {} rows of {} B in {} ms (first batch after {} ms)", n, payloadSize, took / 1_000_000, first / 1_000_000);
      return n / (took / 1e9);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("Debezium drain failed: " + e, e);
    } finally {
      dropOutbox(pg, t);
      deleteQuietly(offsets);
    }
  }

  /** @param overrides connector settings that differ from the defaults (context runs only) */
  static Histogram endToEnd(RunContext ctx, Map<String, String> overrides) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    BenchEnvironment.LogicalPostgres pg = env.logicalPostgres();
    OutboxTable t = createOutbox(pg);
    String topic = env.newTopic("dbz-e2e");
    Path offsets = tempFile();
    Properties producer = producer(env);
    try (ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic)) {
      prime(pg, t, topic, offsets, producer);
      clock.awaitArrived(1, Duration.ofSeconds(60));
      long before = clock.arrived();
      Properties props = engineProperties(pg, t, topic, offsets, false);
      overrides.forEach(props::setProperty);
      try (Engine engine = new Engine(props, producer, topic).start();
          Connection c = pg.dataSource().getConnection()) {
        waitForSlot(pg, t, engine);
        c.setAutoCommit(false);
        String orders = t.schema() + ".bench_orders";
        ArrivalClock.Writer writer =
            (i, due, payload) -> {
              long orderId = BenchEvents.orderId(7, i);
              try (PreparedStatement ps = c.prepareStatement(BenchEvents.INSERT_ORDER.replace("bench_orders", orders))) {
                ps.setLong(1, orderId);
                ps.setString(2, "customer-" + (orderId % 1000));
                ps.setLong(3, orderId % 10_000);
                ps.setTimestamp(4, java.sql.Timestamp.from(java.time.Instant.now()));
                ps.executeUpdate();
              }
              insertOutbox(c, t.qualified(), topic, BenchEvents.key(orderId), payload);
              c.commit();
            };
        writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
        clock.awaitArrived(before + 1, Duration.ofSeconds(120));
        return clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
      }
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("Debezium end-to-end run failed: " + e, e);
    } finally {
      dropOutbox(pg, t);
      deleteQuietly(offsets);
    }
  }

  private static Path tempFile() {
    try {
      Path p = Files.createTempFile("bench-debezium-offsets", ".dat");
      Files.delete(p);
      return p;
    } catch (IOException e) {
      throw new IllegalStateException("cannot create a temporary file: " + e, e);
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      log.debug("could not delete {}", p);
    }
  }
}
