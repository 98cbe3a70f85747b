package dev.courier.server;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A fresh schema with Courier's tables for the operator verbs and the admin API, the environment
 * that points the CLI at it, and real dead letters made by a consumer that gives up.
 */
public final class AdminFixture implements AutoCloseable {
  public final TestDatabase database = TestDatabase.shared();
  public final PGSimpleDataSource db;

  public AdminFixture(String prefix) {
    db = database.freshSchema(prefix);
    Schema.migrate(db, CourierTables.DEFAULT);
  }

  /** COURIER_* variables selecting this schema, plus USER for the audit trail. */
  public Map<String, String> environment() {
    Map<String, String> env = new HashMap<>();
    env.put("COURIER_DB_URL", database.jdbcUrl());
    env.put("COURIER_DB_SCHEMA", db.getCurrentSchema());
    if (database.user() != null) {
      env.put("COURIER_DB_USER", database.user());
    }
    if (database.password() != null) {
      env.put("COURIER_DB_PASSWORD", database.password());
    }
    env.put("USER", "carol");
    return env;
  }

  public IdempotentProcessor consumer(String name, dev.courier.inbox.EventHandler handler) {
    return IdempotentProcessor.builder(name, db, handler)
        .retryPolicy(RetryPolicy.builder().maxAttempts(1).initialDelay(Duration.ofMillis(1)).maxDelay(Duration.ofMillis(1)).build())
        .build();
  }

  /** A dead letter for {@code consumer}, failing with the given error; returns the event. */
  public Event deadLetter(String consumer, String type, String key, Function<Event, RuntimeException> error) {
    Event e =
        Event.builder(type).destination("orders").key(key).payload("{\"order\":\"" + key + "\"}")
            .header("tenant", "acme").build(Instant.now());
    HandleOutcome o = consumer(consumer, (event, c) -> { throw error.apply(event); }).process(e, 1, "orders-0@1");
    if (!(o instanceof HandleOutcome.DeadLettered)) {
      throw new AssertionError("expected a dead letter, got " + o);
    }
    return e;
  }

  public Event poison(String consumer, String key) {
    return deadLetter(consumer, "OrderPlaced", key, e -> new PoisonEventException("bad order " + key));
  }

  public long idOf(Event e) {
    return count("SELECT id FROM courier_dead_letters WHERE event_id = ?", e.id());
  }

  public long count(String sql, Object... params) {
    return ((Number) rows(sql, params).getFirst().values().iterator().next()).longValue();
  }

  public List<Map<String, Object>> rows(String sql, Object... params) {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      List<Map<String, Object>> out = new ArrayList<>();
      if (!ps.execute()) {
        return out;
      }
      try (ResultSet rs = ps.getResultSet()) {
        while (rs.next()) {
          Map<String, Object> row = new LinkedHashMap<>();
          for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            Object v = rs.getObject(i);
            row.put(rs.getMetaData().getColumnLabel(i), v instanceof byte[] b ? Arrays.toString(b) : v);
          }
          out.add(row);
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The contents of every Courier table, to compare before and after a refused request. */
  public String snapshot() {
    StringBuilder sb = new StringBuilder();
    for (String t : List.of("courier_outbox", "courier_dead_letters", "courier_processed_events",
        "courier_replays", "courier_audit", "courier_outbox_archive")) {
      sb.append(t).append('=').append(rows("SELECT * FROM " + t + " ORDER BY 1")).append('\n');
    }
    return sb.toString();
  }

  @Override
  public void close() {
    database.dropSchema(db);
  }
}
