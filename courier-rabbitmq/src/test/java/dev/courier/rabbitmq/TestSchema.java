package dev.courier.rabbitmq;

import dev.courier.Event;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.OutageDataSource;
import dev.courier.testkit.SqlRows;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One PostgreSQL schema with Courier's tables and an {@code effects} table that handlers write to.
 * The effects table has no unique key on the event id on purpose: a double effect must show up as
 * two rows, not be hidden by a constraint.
 */
final class TestSchema implements AutoCloseable {
  /** Three quick attempts, no jitter, so that retry paths take milliseconds. */
  static final RetryPolicy QUICK_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(3)
          .initialDelay(Duration.ofMillis(300))
          .maxDelay(Duration.ofMillis(300))
          .jitter(false)
          .build();

  private final PGSimpleDataSource schema;
  private final OutageDataSource gate;

  TestSchema(String prefix) {
    schema = TestDatabase.shared().freshSchema(prefix);
    gate = new OutageDataSource(schema);
    Schema.migrate(schema, CourierTables.DEFAULT);
    execute(
        "CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, consumer VARCHAR(255) NOT NULL, event_id UUID"
            + " NOT NULL, payload TEXT, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
  }

  /** The schema's data source; its connections fail while {@link #databaseDown(boolean)} is on. */
  DataSource dataSource() {
    return gate;
  }

  /** Simulates an unreachable database for every connection opened through {@link #dataSource()}. */
  void databaseDown(boolean down) {
    gate.down(down);
  }

  /** A handler that records the event in the effects table, in the processor's transaction. */
  static EventHandler recordingEffect(String consumer) {
    return (event, c) -> {
      try (PreparedStatement ps =
          c.prepareStatement("INSERT INTO effects (consumer, event_id, payload) VALUES (?, ?, ?)")) {
        ps.setString(1, consumer);
        ps.setObject(2, event.id());
        ps.setString(3, new String(event.payload(), StandardCharsets.UTF_8));
        ps.executeUpdate();
      }
    };
  }

  IdempotentProcessor processor(String consumer, EventHandler handler, MeterRegistry registry) {
    return IdempotentProcessor.builder(consumer, gate, handler)
        .retryPolicy(QUICK_RETRIES)
        .meterRegistry(registry)
        .build();
  }

  static Event.Builder event(String destination, String key, String payload) {
    return Event.builder("OrderPlaced").destination(destination).key(key).payload(payload).correlationId("corr-" + key);
  }

  static double counter(MeterRegistry registry, String name, String consumer) {
    Counter c = registry.find(name).tag("consumer", consumer).counter();
    return c == null ? 0 : c.count();
  }

  static double dedupeHits(MeterRegistry registry, String consumer) {
    return counter(registry, CourierMetrics.CONSUMER_DEDUPE_HITS, consumer);
  }

  /** How many effect rows the consumer wrote for the event. */
  long effects(String consumer, UUID eventId) {
    return queryLong("SELECT count(*) FROM effects WHERE consumer = ? AND event_id = ?", consumer, eventId);
  }

  long effectRows(String consumer) {
    return queryLong("SELECT count(*) FROM effects WHERE consumer = ?", consumer);
  }

  /** The outbox row of an event: status, attempts, last_error; empty when there is no row. */
  Map<String, Object> outboxRow(UUID eventId) {
    return row("SELECT status, attempts, last_error FROM courier_outbox WHERE event_id = ?", eventId);
  }

  /** The consumer's dead letters, oldest first, as column maps. */
  List<Map<String, Object>> deadLetters(String consumer) {
    return rows(
        "SELECT event_id, reason, attempts, error_message, source, event_type, payload FROM"
            + " courier_dead_letters WHERE consumer = ? ORDER BY id",
        consumer);
  }

  long queryLong(String sql, Object... params) {
    return SqlRows.queryLong(schema, sql, params);
  }

  Map<String, Object> row(String sql, Object... params) {
    return SqlRows.row(schema, sql, params);
  }

  List<Map<String, Object>> rows(String sql, Object... params) {
    return SqlRows.rows(schema, sql, params);
  }

  void execute(String sql) {
    SqlRows.execute(schema, sql);
  }

  @Override
  public void close() {
    TestDatabase.shared().dropSchema(schema);
  }
}
