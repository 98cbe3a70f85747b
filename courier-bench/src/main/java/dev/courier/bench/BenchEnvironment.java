package dev.courier.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.embedded.EmbeddedKafka;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.testkit.TestDatabase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.HashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real engines a benchmark runs on, and what the report says about them: the PostgreSQL of
 * {@link TestDatabase} (the local server, else an embedded one), an embedded Kafka broker tuned for
 * throughput rather than for test start-up, and the machine.
 *
 * <p>Each measurement gets a fresh schema with Courier's tables and the benchmark's own, and a
 * connection pool on it; {@link #close()} drops every schema it made and stops the broker.
 */
final class BenchEnvironment implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BenchEnvironment.class);

  /** The business row every workload writes; the effect row every consumer writes. */
  private static final List<String> BENCH_DDL =
      List.of(
          "CREATE TABLE bench_orders (id BIGINT PRIMARY KEY, customer VARCHAR(64) NOT NULL,"
              + " amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
          "CREATE TABLE bench_effects (id BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL,"
              + " amount BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)");

  static final int PARTITIONS = 3;

  private final TestDatabase database;
  private final EmbeddedKafka kafka;
  private final Map<HikariDataSource, String> schemas = new LinkedHashMap<>();
  private final AtomicInteger topics = new AtomicInteger();
  private final Map<String, String> durability;
  private boolean checkpointAllowed = true;
  private LogicalPostgres logical;

  private BenchEnvironment(TestDatabase database, EmbeddedKafka kafka, BenchOptions options) {
    this.database = database;
    this.kafka = kafka;
    this.durability = readDurability(options);
  }

  /** Connects to PostgreSQL and starts the broker. */
  static BenchEnvironment start(BenchOptions options) {
    TestDatabase db = TestDatabase.shared();
    log.info("benchmark database: {}", db.description());
    EmbeddedKafka kafka =
        EmbeddedKafka.builder()
            .maxHeap(options.kafkaHeap())
            // The test kit stops the broker's JIT at C1 so that tests start fast; a benchmark wants
            // the broker's steady state, so the full tiered compiler is turned back on.
            .jvmOption("-XX:TieredStopAtLevel=4")
            .partitions(PARTITIONS)
            .start();
    log.info("benchmark broker: {}", kafka.bootstrapServers());
    return new BenchEnvironment(db, kafka, options);
  }

  EmbeddedKafka kafka() {
    return kafka;
  }

  TestDatabase database() {
    return database;
  }

  /**
   * A new empty topic with {@value #PARTITIONS} partitions, a name not used before in this JVM, and
   * every partition's leader ready to take writes.
   *
   * <p>A partition whose leader the admin API already reports can still refuse the first produce
   * request ({@code NOT_LEADER_OR_FOLLOWER}); an idempotent producer with several batches in flight
   * can then get stuck retrying {@code OUT_OF_ORDER_SEQUENCE_NUMBER} until its delivery timeout. So
   * each partition is first written once by a plain producer, and that probe record is deleted
   * again, so that consumers reading from the earliest offset never see it.
   */
  String newTopic(String prefix) {
    String name = "bench-" + prefix + "-" + topics.incrementAndGet() + "-" + System.nanoTime() % 100_000;
    kafka.createTopic(name, PARTITIONS);
    Map<String, Object> config = new HashMap<>();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
    config.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-topic-probe");
    Map<TopicPartition, RecordsToDelete> probes = new HashMap<>();
    try (KafkaProducer<byte[], byte[]> probe =
            new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      for (int p = 0; p < PARTITIONS; p++) {
        RecordMetadata md = probe.send(new ProducerRecord<>(name, p, null, new byte[0])).get(60, TimeUnit.SECONDS);
        probes.put(new TopicPartition(name, p), RecordsToDelete.beforeOffset(md.offset() + 1));
      }
      admin.deleteRecords(probes).all().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("topic " + name + " did not become writable: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while preparing topic " + name, e);
    }
    return name;
  }

  /**
   * A fresh schema holding Courier's tables and the benchmark's, and a pool of up to {@code
   * maxConnections} connections whose search path is that schema.
   */
  HikariDataSource freshSchema(String prefix, int maxConnections) {
    PGSimpleDataSource plain = database.freshSchema("bench_" + prefix);
    HikariDataSource pool = pooled(plain, prefix, maxConnections);
    schemas.put(pool, plain.getCurrentSchema());
    return pool;
  }

  /** Courier's tables and the benchmark's in {@code plain}'s schema, and a pool on it. */
  static HikariDataSource pooled(PGSimpleDataSource plain, String prefix, int maxConnections) {
    Schema.migrate(plain, CourierTables.DEFAULT);
    try (Connection c = plain.getConnection();
        Statement s = c.createStatement()) {
      for (String ddl : BENCH_DDL) {
        s.execute(ddl);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create the benchmark tables: " + e.getMessage(), e);
    }
    HikariConfig config = new HikariConfig();
    config.setDataSource(plain);
    config.setMaximumPoolSize(maxConnections);
    config.setMinimumIdle(0);
    config.setPoolName("bench-" + prefix);
    // Hikari opens connections one at a time, and on a loaded machine 16 W0 clients have waited
    // more than 30 s for theirs. Clients connect before a measurement starts, so a long wait costs
    // time, never a figure; a pool that still has none by then names the server's connection use
    // (ClosedLoop), since another process holding the server's connections looks the same.
    config.setConnectionTimeout(90_000);
    return new HikariDataSource(config);
  }

  /** Closes a pool made by {@link #freshSchema} and drops its schema. */
  void discard(HikariDataSource pool) {
    pool.close();
    String schema = schemas.remove(pool);
    if (schema != null) {
      try {
        database.dropSchema(schema);
      } catch (RuntimeException e) {
        log.warn("could not drop benchmark schema {}: {}", schema, e.getMessage());
      }
    }
  }

  /**
   * Forces a PostgreSQL checkpoint, so that every measured phase starts with the same cost of full
   * page images in the WAL. Needs superuser rights; without them it is skipped (and said so once).
   */
  void checkpoint() {
    if (!checkpointAllowed) {
      return;
    }
    try (Connection c = database.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("CHECKPOINT");
    } catch (SQLException e) {
      checkpointAllowed = false;
      log.warn("cannot run CHECKPOINT ({}); phases start without one", e.getMessage());
    }
  }

  /** The single number a query returns, for the invariant checks after a measurement. */
  static long count(javax.sql.DataSource pool, String sql) {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot run " + sql + ": " + e.getMessage(), e);
    }
  }

  /** Runs one statement that changes rows, outside any measurement. */
  static void update(javax.sql.DataSource pool, String sql) {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot run " + sql + ": " + e.getMessage(), e);
    }
  }

  /**
   * The server's connections in use against its {@code max_connections}, by application, read on a
   * connection of its own: what a pool that cannot get a connection needs in its error (another
   * process holding the server's connections looks like a hung benchmark otherwise).
   */
  static String connectionUsage(javax.sql.DataSource dataSource) {
    javax.sql.DataSource direct =
        dataSource instanceof HikariDataSource h && h.getDataSource() != null ? h.getDataSource() : dataSource;
    try (Connection c = direct.getConnection();
        Statement s = c.createStatement();
        ResultSet r =
            s.executeQuery(
                "SELECT current_setting('max_connections'), sum(n), string_agg(a || ' ' || st || ' x' || n, ', ')"
                    + " FROM (SELECT coalesce(nullif(application_name, ''), '(none)') AS a,"
                    + " coalesce(state, 'unknown') AS st, count(*) AS n FROM pg_stat_activity"
                    + " WHERE backend_type = 'client backend' GROUP BY 1, 2) x")) {
      r.next();
      return "the server has " + r.getLong(2) + " client connections of max_connections " + r.getString(1) + ": " + r.getString(3);
    } catch (SQLException e) {
      return "the server's connections could not be read: " + e.getMessage();
    }
  }

  /** Runs {@code VACUUM ANALYZE} on a table of a pool's schema. */
  static void vacuumAnalyze(HikariDataSource pool, String table) {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      c.setAutoCommit(true);
      s.execute("VACUUM ANALYZE " + table);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot vacuum " + table + ": " + e.getMessage(), e);
    }
  }

  /** PostgreSQL's durability settings as the server reports them with SHOW, plus Kafka's. */
  Map<String, String> durability() {
    return durability;
  }

  private Map<String, String> readDurability(BenchOptions options) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("PostgreSQL", database.description());
    try (Connection c = database.dataSource().getConnection();
        Statement s = c.createStatement()) {
      for (String setting :
          List.of(
              "fsync",
              "synchronous_commit",
              "wal_sync_method",
              "full_page_writes",
              "commit_delay",
              "shared_buffers",
              "max_wal_size",
              "autovacuum")) {
        try (ResultSet r = s.executeQuery("SHOW " + setting)) {
          r.next();
          out.put("PostgreSQL " + setting, r.getString(1));
        }
      }
    } catch (SQLException e) {
      out.put("PostgreSQL settings", "could not be read: " + e.getMessage());
    }
    out.put(
        "Kafka",
        "embedded single KRaft broker "
            + kafkaVersion()
            + " in its own JVM (replication factor 1, min.insync.replicas 1, "
            + PARTITIONS
            + " partitions per topic), heap "
            + options.kafkaHeap()
            + ", serial GC, full tiered JIT");
    out.put(
        "Kafka durability",
        "acks=all on a single broker means the leader's page cache: log.flush.interval.* are Kafka's"
            + " defaults (no fsync per record); a machine crash can lose acknowledged records");
    out.put(
        "Kafka producers",
        "Courier's KafkaTransport at its defaults: acks=all, enable.idempotence=true,"
            + " max.in.flight.requests.per.connection=5, linger.ms="
            + dev.courier.kafka.KafkaTransport.DEFAULT_LINGER_MS
            + ", batch.size "
            + dev.courier.kafka.KafkaTransport.DEFAULT_BATCH_BYTES / 1024
            + " KiB, no compression. The ceiling and the hand-written loop:"
            + " the same delivery settings, no compression, their batch.size and linger.ms as"
            + " their figures name them");
    return out;
  }

  private static String kafkaVersion() {
    try (var in = org.apache.kafka.clients.producer.KafkaProducer.class.getClassLoader()
        .getResourceAsStream("kafka/kafka-version.properties")) {
      java.util.Properties p = new java.util.Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "(version unknown)");
    } catch (IOException e) {
      return "(version unknown)";
    }
  }

  /** nproc, memory, CPU model and kernel, from /proc where available. */
  static Map<String, String> machine() {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("processors (nproc)", Integer.toString(Runtime.getRuntime().availableProcessors()));
    out.put("CPU model", firstValue(Path.of("/proc/cpuinfo"), "model name"));
    String mem = firstValue(Path.of("/proc/meminfo"), "MemTotal");
    out.put("memory", mem);
    out.put(
        "OS",
        System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
    out.put(
        "JVM",
        System.getProperty("java.vm.vendor")
            + " "
            + System.getProperty("java.vm.name")
            + " "
            + System.getProperty("java.runtime.version"));
    return out;
  }

  /** The 1-, 5- and 15-minute load averages, or "unknown". */
  static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).split("\\s+");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static String firstValue(Path file, String key) {
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equals(key)) {
          return line.substring(colon + 1).trim();
        }
      }
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
    return "unknown";
  }

  /**
   * The benchmark's own PostgreSQL with {@code wal_level=logical} and autovacuum on, started on
   * first use: Debezium needs logical decoding, the soak needs autovacuum as a deployment has it,
   * and the shared server (whose configuration may turn autovacuum off, as this machine's does) is
   * not reconfigured for a benchmark. Courier's side of the Debezium comparison runs on this same
   * instance.
   */
  synchronized LogicalPostgres logicalPostgres() {
    if (logical == null) {
      logical = LogicalPostgres.start();
      durability.put("PostgreSQL for the Debezium comparison and the soak", logical.description());
    }
    return logical;
  }

  /** An embedded PostgreSQL (zonky's binaries) with logical decoding, and full durability. */
  static final class LogicalPostgres implements AutoCloseable {
    private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres postgres;
    private final String description;
    private int schemas;

    private LogicalPostgres(io.zonky.test.db.postgres.embedded.EmbeddedPostgres postgres) {
      this.postgres = postgres;
      StringBuilder d = new StringBuilder("embedded PostgreSQL (zonky)");
      try (Connection c = dataSource().getConnection();
          Statement s = c.createStatement()) {
        for (String setting :
            List.of(
                "server_version",
                "wal_level",
                "fsync",
                "synchronous_commit",
                "wal_sync_method",
                "full_page_writes",
                "shared_buffers",
                "max_wal_size",
                "autovacuum")) {
          try (ResultSet r = s.executeQuery("SHOW " + setting)) {
            r.next();
            d.append(", ").append(setting).append('=').append(r.getString(1));
          }
        }
      } catch (SQLException e) {
        d.append(", settings unreadable: ").append(e.getMessage());
      }
      this.description = d.toString();
    }

    static LogicalPostgres start() {
      try {
        return new LogicalPostgres(
            io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
                .setServerConfig("wal_level", "logical")
                .setServerConfig("max_replication_slots", "10")
                .setServerConfig("max_wal_senders", "10")
                // zonky turns synchronous_commit off by default; the shared server has it on
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("fsync", "on")
                .setServerConfig("shared_buffers", "128MB")
                .setServerConfig("max_wal_size", "1GB")
                // PostgreSQL's default, stated because the soak depends on it
                .setServerConfig("autovacuum", "on")
                .start());
      } catch (IOException e) {
        throw new IllegalStateException("cannot start the embedded PostgreSQL with wal_level=logical: " + e, e);
      }
    }

    String description() {
      return description;
    }

    int port() {
      return postgres.getPort();
    }

    PGSimpleDataSource dataSource() {
      PGSimpleDataSource ds = new PGSimpleDataSource();
      ds.setURL("jdbc:postgresql://127.0.0.1:" + port() + "/postgres");
      ds.setUser("postgres");
      return ds;
    }

    /** Runs statements in autocommit mode. */
    void execute(String... sql) {
      try (Connection c = dataSource().getConnection();
          Statement s = c.createStatement()) {
        for (String q : sql) {
          s.execute(q);
        }
      } catch (SQLException e) {
        throw new IllegalStateException("cannot run statement: " + e.getMessage(), e);
      }
    }

    long count(String sql) {
      return BenchEnvironment.count(dataSource(), sql);
    }

    void checkpoint() {
      execute("CHECKPOINT");
    }

    /** A new schema with Courier's tables and the benchmark's, and a pool on it. */
    HikariDataSource freshSchema(String prefix, int maxConnections) {
      String schema = "bench_" + prefix + "_" + (++schemas);
      execute("CREATE SCHEMA " + schema);
      PGSimpleDataSource plain = dataSource();
      plain.setCurrentSchema(schema);
      return pooled(plain, prefix, maxConnections);
    }

    /** Closes a pool of {@link #freshSchema} and drops its schema. */
    void discard(HikariDataSource pool) {
      String schema = ((PGSimpleDataSource) pool.getDataSource()).getCurrentSchema();
      pool.close();
      execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }

    @Override
    public void close() {
      try {
        postgres.close();
      } catch (IOException e) {
        log.warn("could not stop the embedded PostgreSQL: {}", e.toString());
      }
    }
  }

  @Override
  public void close() {
    for (HikariDataSource pool : new ArrayList<>(schemas.keySet())) {
      discard(pool);
    }
    if (logical != null) {
      logical.close();
    }
    kafka.close();
  }
}
