package dev.courier.rabbitmq;

import dev.courier.Event;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;
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
  private final Gate gate;

  TestSchema(String prefix) {
    schema = TestDatabase.shared().freshSchema(prefix);
    gate = new Gate(schema);
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
    gate.down = down;
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
    return ((Number) row(sql, params).values().iterator().next()).longValue();
  }

  Map<String, Object> row(String sql, Object... params) {
    List<Map<String, Object>> rows = rows(sql, params);
    return rows.isEmpty() ? Map.of() : rows.getFirst();
  }

  List<Map<String, Object>> rows(String sql, Object... params) {
    try (Connection c = schema.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      List<Map<String, Object>> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
          Map<String, Object> row = new LinkedHashMap<>();
          for (int i = 1; i <= n; i++) {
            row.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
          }
          out.add(row);
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  void execute(String sql) {
    try (Connection c = schema.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    TestDatabase.shared().dropSchema(schema);
  }

  /**
   * The real data source, with a switch that makes new connections fail as they do when the
   * database is unreachable. Not a mock: every connection it hands out is a real one.
   */
  private static final class Gate implements DataSource {
    private final PGSimpleDataSource real;
    volatile boolean down;

    Gate(PGSimpleDataSource real) {
      this.real = real;
    }

    @Override
    public Connection getConnection() throws SQLException {
      if (down) {
        throw new SQLException("Connection to 127.0.0.1:5432 refused (simulated outage)", "08001");
      }
      return real.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
      if (iface.isInstance(this)) {
        return iface.cast(this);
      }
      return real.unwrap(iface);
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return iface.isInstance(this);
    }
  }
}
