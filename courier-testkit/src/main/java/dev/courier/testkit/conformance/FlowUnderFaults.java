package dev.courier.testkit.conformance;

import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Transport;
import dev.courier.testkit.SqlRows;
import dev.courier.testkit.TestDatabase;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The whole flow of one run, on a fresh PostgreSQL schema: a writer committing events through the
 * outbox at a steady pace, a relay publishing them, and an idempotent consumer recording one row
 * per application in {@code effects} (no unique key there: a double effect shows as two rows).
 * Afterwards it counts, from the database, what was lost and what was applied twice.
 *
 * <p>The relay retries for a long time (1,000 attempts, 50 ms to 1 s apart), so a fault delays
 * events instead of parking them dead; the handler never fails, and the consumer's 10 attempts
 * (within a RabbitMQ queue's default delivery limit of 20) cover database hiccups. A dead row or a
 * dead letter is a failure of the run.
 */
final class FlowUnderFaults implements AutoCloseable {
  static final RetryPolicy PATIENT =
      RetryPolicy.builder()
          .maxAttempts(1_000)
          .initialDelay(Duration.ofMillis(50))
          .maxDelay(Duration.ofSeconds(1))
          .build();

  final String consumer = "flow-" + UUID.randomUUID().toString().substring(0, 8);
  final MeterRegistry meters = new SimpleMeterRegistry();
  private final PGSimpleDataSource schema;
  private final HikariDataSource db;
  private final Outbox outbox = Outbox.builder().build();
  private final List<UUID> written = new ArrayList<>();

  FlowUnderFaults(String prefix) {
    schema = TestDatabase.shared().freshSchema(prefix);
    HikariConfig pool = new HikariConfig();
    pool.setDataSource(schema);
    pool.setMaximumPoolSize(8);
    pool.setPoolName(prefix);
    db = new HikariDataSource(pool);
    Schema.migrate(db, CourierTables.DEFAULT);
    SqlRows.execute(
        db,
        "CREATE TABLE effects (n BIGSERIAL PRIMARY KEY, consumer TEXT NOT NULL, event_id UUID NOT NULL,"
            + " applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
  }

  DataSource dataSource() {
    return db;
  }

  IdempotentProcessor processor() {
    return IdempotentProcessor.builder(
            consumer,
            db,
            (event, c) -> {
              try (PreparedStatement ps =
                  c.prepareStatement("INSERT INTO effects (consumer, event_id) VALUES (?, ?)")) {
                ps.setString(1, consumer);
                ps.setObject(2, event.id());
                ps.executeUpdate();
              }
            })
        .retryPolicy(
            RetryPolicy.builder()
                .maxAttempts(10)
                .initialDelay(Duration.ofMillis(50))
                .maxDelay(Duration.ofSeconds(1))
                .build())
        .meterRegistry(meters)
        .build();
  }

  Relay.Builder relay(Transport transport) {
    return Relay.builder(db, transport)
        .retryPolicy(PATIENT)
        .batchSize(100)
        .publishTimeout(Duration.ofSeconds(2))
        .lease(Duration.ofSeconds(5))
        .minPollInterval(Duration.ofMillis(5))
        .maxPollInterval(Duration.ofMillis(100));
  }

  /**
   * Commits {@code count} events to {@code destination} in transactions of {@code perTransaction},
   * spread evenly over {@code duration}; runs on the calling thread.
   */
  void write(String destination, int count, int perTransaction, Duration duration) throws Exception {
    long start = System.nanoTime();
    AtomicInteger n = new AtomicInteger();
    while (n.get() < count) {
      try (Connection c = db.getConnection()) {
        c.setAutoCommit(false);
        List<Event.Builder> batch = new ArrayList<>();
        for (int i = 0; i < perTransaction && n.get() < count; i++) {
          int k = n.getAndIncrement();
          batch.add(
              Event.builder("Tick")
                  .destination(destination)
                  .key("key-" + (k % 16))
                  .payload("event " + k)
                  .correlationId("flow-" + k));
        }
        List<Event> stored = outbox.appendAll(c, batch);
        c.commit();
        synchronized (written) {
          stored.forEach(e -> written.add(e.id()));
        }
      }
      long due = start + duration.toNanos() * n.get() / count;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
    }
  }

  int written() {
    synchronized (written) {
      return written.size();
    }
  }

  /** Committed events without an effect. */
  long lost() {
    return SqlRows.queryLong(
        db,
        "SELECT count(*) FROM courier_outbox o WHERE NOT EXISTS (SELECT 1 FROM effects e WHERE"
            + " e.event_id = o.event_id AND e.consumer = ?)",
        consumer);
  }

  /** Effect rows beyond the first of each event. */
  long duplicatedEffects() {
    return SqlRows.queryLong(
        db, "SELECT count(*) - count(DISTINCT event_id) FROM effects WHERE consumer = ?", consumer);
  }

  /** When the last effect was applied, by the database's clock; null before the first. */
  java.time.Instant lastEffect() {
    Object t = SqlRows.row(db, "SELECT max(applied_at) AS t FROM effects WHERE consumer = ?", consumer).get("t");
    return t == null ? null : ((java.sql.Timestamp) t).toInstant();
  }

  long effects() {
    return SqlRows.queryLong(db, "SELECT count(*) FROM effects WHERE consumer = ?", consumer);
  }

  long outbox(String status) {
    return SqlRows.queryLong(db, "SELECT count(*) FROM courier_outbox WHERE status = ?", status);
  }

  /** Outbox rows that needed more than one publish attempt. */
  long republished() {
    return SqlRows.queryLong(db, "SELECT count(*) FROM courier_outbox WHERE attempts > 1");
  }

  long deadLetters() {
    return SqlRows.queryLong(db, "SELECT count(*) FROM courier_dead_letters");
  }

  double dedupeHits() {
    Counter c = meters.find(CourierMetrics.CONSUMER_DEDUPE_HITS).tag("consumer", consumer).counter();
    return c == null ? 0 : c.count();
  }

  /** Waits until {@code condition} holds; false if it did not within {@code timeout}. */
  static boolean await(Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(100);
    }
    return true;
  }

  @Override
  public void close() {
    db.close();
    TestDatabase.shared().dropSchema(schema);
  }

  static void quietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception ignored) {
      // closing after a run; the run's result is already decided
    }
  }
}
