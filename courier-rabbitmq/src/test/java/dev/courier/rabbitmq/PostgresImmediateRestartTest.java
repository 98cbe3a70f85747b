package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.SqlRows;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * PostgreSQL stopped in immediate mode (SIGQUIT to the postmaster: no checkpoint, crash recovery
 * on the next start) and started again on the same data directory and port, twice, while a writer
 * commits events, the relay publishes them to RabbitMQ and a consumer applies them. The outbox, the
 * ledger and the effects all live in that database, an embedded one of this test's own (the shared
 * server is never stopped). Afterwards, from the database: every committed event applied once, no
 * dead row, no dead letter.
 *
 * <p>What the crash exercises: the relay's claims and "published" marks commit without waiting for
 * the WAL flush ({@code Dialect.relaxedCommit}), so a crash can lose the last of them and the rows
 * are published again; writers' and consumers' commits in flight at the crash are ambiguous; every
 * pooled connection dies at once.
 */
class PostgresImmediateRestartTest {
  private static final int EVENTS = 3_000;

  @BeforeAll
  static void requireBroker() {
    TestRabbit.require();
  }

  @Test
  void immediateStopAndStartOfPostgres_twiceUnderLoad_losesNothing_andAppliesEachEventOnce() throws Exception {
    Path dataDir = Files.createTempDirectory("courier-pg-immediate");
    TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();
    Database pg = new Database(dataDir);
    HikariDataSource pool = pg.pool();
    String consumer = "pg-restart-" + UUID.randomUUID().toString().substring(0, 8);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (RabbitMqTransport relayTransport = TestRabbit.transport().build();
        RabbitMqTransport consumerTransport = TestRabbit.transport().build()) {
      Schema.migrate(pool, CourierTables.DEFAULT);
      SqlRows.execute(
          pool, "CREATE TABLE effects (n BIGSERIAL PRIMARY KEY, consumer TEXT NOT NULL, event_id UUID NOT NULL)");
      String destination = cleanup.destination(TestRabbit.uniqueDestination("pg-restart"));
      cleanup.queue(relayTransport.declareTopology(destination, consumer));

      IdempotentProcessor processor =
          IdempotentProcessor.builder(
                  consumer,
                  pool,
                  (event, c) -> {
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects (consumer, event_id) VALUES (?, ?)")) {
                      ps.setString(1, consumer);
                      ps.setObject(2, event.id());
                      ps.executeUpdate();
                    }
                  })
              .retryPolicy(RetryPolicy.builder().maxAttempts(10).initialDelay(Duration.ofMillis(50)).maxDelay(Duration.ofSeconds(1)).build())
              .meterRegistry(meters)
              .build();
      RabbitMqSubscription subscription = consumerTransport.subscribe(SubscriptionSpec.of(destination), processor);
      Relay relay =
          Relay.builder(pool, relayTransport)
              .retryPolicy(RetryPolicy.builder().maxAttempts(1_000).initialDelay(Duration.ofMillis(50)).maxDelay(Duration.ofSeconds(1)).build())
              .batchSize(100)
              .publishTimeout(Duration.ofSeconds(2))
              .lease(Duration.ofSeconds(5))
              .minPollInterval(Duration.ofMillis(5))
              .maxPollInterval(Duration.ofMillis(100))
              .build();
      try {
        relay.start();
        Writer writer = new Writer(pool, destination);
        Thread writing = Thread.ofPlatform().name("pg-restart-writer").start(writer);

        await().atMost(Duration.ofSeconds(60)).until(() -> writer.committed() >= EVENTS * 3 / 10);
        pg.crashAndRestart();
        await().atMost(Duration.ofSeconds(60)).until(() -> writer.committed() >= EVENTS * 65 / 100);
        pg.crashAndRestart();
        writing.join(Duration.ofSeconds(120));
        assertThat(writing.isAlive()).as("the writer finished").isFalse();

        await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(200))
            .ignoreExceptions()
            .until(() -> SqlRows.queryLong(pool, "SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'") == 0 && lost(pool, consumer) == 0);

        long outboxRows = SqlRows.queryLong(pool, "SELECT count(*) FROM courier_outbox");
        long effects = SqlRows.queryLong(pool, "SELECT count(*) FROM effects WHERE consumer = ?", consumer);
        long distinct = SqlRows.queryLong(pool, "SELECT count(DISTINCT event_id) FROM effects WHERE consumer = ?", consumer);
        long republished = SqlRows.queryLong(pool, "SELECT count(*) FROM courier_outbox WHERE attempts > 1");
        Counter hits = meters.find(dev.courier.metrics.CourierMetrics.CONSUMER_DEDUPE_HITS).counter();
        String report =
            String.format(
                "PostgresImmediateRestartTest: %d commits attempted, %d outbox rows (committed), %d commits"
                    + " failed or ambiguous, 2 immediate stops, rows published again %d, dedupe hits %.0f,"
                    + " effects %d (distinct %d), lost %d, dead rows %d, dead letters %d",
                writer.attempted(),
                outboxRows,
                writer.failed(),
                republished,
                hits == null ? 0 : hits.count(),
                effects,
                distinct,
                lost(pool, consumer),
                SqlRows.queryLong(pool, "SELECT count(*) FROM courier_outbox WHERE status = 'DEAD'"),
                SqlRows.queryLong(pool, "SELECT count(*) FROM courier_dead_letters"));
        System.out.println(report);

        assertThat(outboxRows).as(report).isGreaterThanOrEqualTo(writer.committed());
        assertThat(lost(pool, consumer)).as("lost: " + report).isZero();
        assertThat(effects).as("duplicated effects: " + report).isEqualTo(distinct);
        assertThat(distinct).as(report).isEqualTo(outboxRows);
        assertThat(SqlRows.queryLong(pool, "SELECT count(*) FROM courier_outbox WHERE status = 'DEAD'")).as(report).isZero();
        assertThat(SqlRows.queryLong(pool, "SELECT count(*) FROM courier_dead_letters")).as(report).isZero();
        assertThat(subscription.isRunning()).isTrue();
      } finally {
        relay.close();
        subscription.close();
      }
    } finally {
      pool.close();
      pg.close();
      cleanup.close();
      deleteRecursively(dataDir);
    }
  }

  private static long lost(HikariDataSource pool, String consumer) {
    return SqlRows.queryLong(
        pool,
        "SELECT count(*) FROM courier_outbox o WHERE NOT EXISTS (SELECT 1 FROM effects e WHERE e.event_id ="
            + " o.event_id AND e.consumer = ?)",
        consumer);
  }

  /** Commits events one transaction of 10 at a time at about 200 a second; a failed commit is retried with new events. */
  private static final class Writer implements Runnable {
    private final HikariDataSource pool;
    private final String destination;
    private final Outbox outbox = Outbox.builder().build();
    private final AtomicInteger committed = new AtomicInteger();
    private final AtomicLong attempted = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    Writer(HikariDataSource pool, String destination) {
      this.pool = pool;
      this.destination = destination;
    }

    @Override
    public void run() {
      int n = 0;
      while (committed.get() < EVENTS) {
        List<Event.Builder> batch = new ArrayList<>();
        for (int i = 0; i < 10; i++, n++) {
          batch.add(Event.builder("Tick").destination(destination).key("key-" + (n % 16)).payload("event " + n));
        }
        attempted.addAndGet(batch.size());
        try (Connection c = pool.getConnection()) {
          c.setAutoCommit(false);
          outbox.appendAll(c, batch);
          c.commit();
          committed.addAndGet(batch.size());
        } catch (SQLException | RuntimeException e) {
          // the database is down, or the commit's outcome is unknown: the outbox tells the truth later
          failed.addAndGet(batch.size());
          sleep(200);
          continue;
        }
        sleep(50);
      }
    }

    int committed() {
      return committed.get();
    }

    long attempted() {
      return attempted.get();
    }

    long failed() {
      return failed.get();
    }

    private static void sleep(long millis) {
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** An embedded PostgreSQL on a fixed data directory and port that can be crashed and started again. */
  private static final class Database implements AutoCloseable {
    private final Path dataDir;
    private EmbeddedPostgres postgres;
    private int port;

    Database(Path dataDir) throws IOException {
      this.dataDir = dataDir;
      postgres = builder().start();
      port = postgres.getPort();
    }

    HikariDataSource pool() {
      PGSimpleDataSource ds = new PGSimpleDataSource();
      ds.setURL("jdbc:postgresql://127.0.0.1:" + port + "/postgres");
      ds.setUser("postgres");
      ds.setConnectTimeout(2);
      ds.setSocketTimeout(10);
      HikariConfig config = new HikariConfig();
      config.setDataSource(ds);
      config.setMaximumPoolSize(8);
      config.setConnectionTimeout(2_000);
      config.setPoolName("pg-immediate");
      return new HikariDataSource(config);
    }

    /** Stops the server in immediate mode, waits until it is gone, and starts it again on the same data and port. */
    void crashAndRestart() throws Exception {
      long pid = Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).getFirst().strip());
      Process kill = new ProcessBuilder("kill", "-QUIT", Long.toString(pid)).inheritIO().start();
      assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("SIGQUIT sent to the postmaster").isTrue();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        assertThat(System.nanoTime()).as("the postmaster exits").isLessThan(deadline);
        Thread.sleep(20);
      }
      postgres.close(); // releases its lock on the data directory; its pg_ctl stop finds nothing to stop
      Thread.sleep(1_000);
      postgres = builder().setPort(port).start();
    }

    /**
     * The embedded server's builder defaults to {@code synchronous_commit=off}, under which a
     * commit is acknowledged before its WAL is flushed: an immediate stop then loses committed
     * transactions (a first run of this test lost one writer transaction of 10 events whose
     * events had already been published and applied). A production database flushes before it
     * acknowledges; so does this one.
     */
    private EmbeddedPostgres.Builder builder() {
      return EmbeddedPostgres.builder()
          .setDataDirectory(dataDir)
          .setCleanDataDirectory(false)
          .setServerConfig("synchronous_commit", "on")
          .setServerConfig("fsync", "on");
    }

    @Override
    public void close() throws IOException {
      postgres.close();
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
