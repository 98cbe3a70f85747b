package dev.courier.nats;

import dev.courier.Event;
import dev.courier.deadletter.DeadLetterStore;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A fresh PostgreSQL schema with Courier's tables and an {@code effects} table that handlers write
 * to. The effects table has no unique key on the event id on purpose: a double effect must show up
 * as two rows, not be hidden by a constraint.
 */
final class Ledger implements AutoCloseable {
  /** Quick handler retries, so that retry paths take milliseconds. */
  static final RetryPolicy FAST_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(3)
          .initialDelay(Duration.ofMillis(50))
          .maxDelay(Duration.ofMillis(200))
          .build();

  private final PGSimpleDataSource schema;
  final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  Ledger(String prefix) {
    schema = TestDatabase.shared().freshSchema(prefix);
    Schema.migrate(schema, CourierTables.DEFAULT);
    try (Connection c = schema.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE effects (n BIGSERIAL PRIMARY KEY, consumer TEXT NOT NULL, event_id UUID NOT"
              + " NULL, event_type TEXT NOT NULL, event_key TEXT, body TEXT, header TEXT)");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  PGSimpleDataSource dataSource() {
    return schema;
  }

  /** A handler that records each event as one row of {@code effects}. */
  static EventHandler recording(String consumer) {
    return (event, c) -> record(consumer, event, c);
  }

  static void record(String consumer, Event event, Connection c) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO effects (consumer, event_id, event_type, event_key, body, header) VALUES"
                + " (?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, consumer);
      ps.setObject(2, event.id());
      ps.setString(3, event.type());
      ps.setString(4, event.key());
      ps.setString(5, new String(event.payload(), StandardCharsets.UTF_8));
      ps.setString(6, event.headers().get("x-note"));
      ps.executeUpdate();
    }
  }

  IdempotentProcessor processor(String consumer, EventHandler handler) {
    return processor(consumer, handler, FAST_RETRIES);
  }

  IdempotentProcessor processor(String consumer, EventHandler handler, RetryPolicy retries) {
    return IdempotentProcessor.builder(consumer, schema, handler)
        .retryPolicy(retries)
        .meterRegistry(meters)
        .build();
  }

  int effects(UUID eventId) {
    return count("SELECT count(*) FROM effects WHERE event_id = '" + eventId + "'");
  }

  int effectsOf(String consumer) {
    return count("SELECT count(*) FROM effects WHERE consumer = '" + consumer + "'");
  }

  String column(UUID eventId, String column) {
    try (Connection c = schema.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT " + column + " FROM effects WHERE event_id = ?")) {
      ps.setObject(1, eventId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  long deadLetters(String consumer) {
    return new DeadLetterStore(schema, CourierTables.DEFAULT).count(consumer);
  }

  /** The reason of the consumer's dead letter for an event id, or by source when the id is null. */
  String deadLetterReason(String consumer, UUID eventId) {
    try (Connection c = schema.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT reason FROM courier_dead_letters WHERE consumer = ? AND "
                    + (eventId == null ? "event_id IS NULL" : "event_id = ?"))) {
      ps.setString(1, consumer);
      if (eventId != null) {
        ps.setObject(2, eventId);
      }
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  double dedupeHits(String consumer) {
    Counter c =
        meters.find(CourierMetrics.CONSUMER_DEDUPE_HITS).tag("consumer", consumer).counter();
    return c == null ? 0 : c.count();
  }

  private int count(String sql) {
    try (Connection c = schema.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    TestDatabase.shared().dropSchema(schema);
  }
}
