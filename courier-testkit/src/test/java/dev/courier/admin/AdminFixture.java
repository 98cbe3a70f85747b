package dev.courier.admin;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestClock;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import org.postgresql.ds.PGSimpleDataSource;

/** A fresh schema with Courier's tables, and helpers that make real dead letters through a consumer. */
final class AdminFixture implements AutoCloseable {
  final PGSimpleDataSource db;
  final TestClock clock = TestClock.now();
  final DeadLetterAdmin admin;

  AdminFixture(String prefix) {
    db = TestDatabase.shared().freshSchema(prefix);
    Schema.migrate(db, CourierTables.DEFAULT);
    admin = DeadLetterAdmin.builder(db).clock(clock).build();
  }

  /** A consumer that gives up on the first failure, with the given handler. */
  IdempotentProcessor consumer(String name, EventHandler handler) {
    return IdempotentProcessor.builder(name, db, handler)
        .clock(clock)
        .retryPolicy(
            RetryPolicy.builder()
                .maxAttempts(1)
                .initialDelay(Duration.ofMillis(1))
                .maxDelay(Duration.ofMillis(1))
                .build())
        .build();
  }

  /** Dead-letters one event of {@code type} and {@code key} for {@code consumer}, failing with the given error. */
  Event deadLetter(String consumer, String type, String key, Function<Event, RuntimeException> error) {
    Event e =
        Event.builder(type)
            .destination("orders")
            .key(key)
            .payload("{\"order\":\"" + key + "\"}")
            .header("tenant", "acme")
            .build(clock.instant());
    HandleOutcome outcome =
        consumer(
                consumer,
                (event, c) -> {
                  throw error.apply(event);
                })
            .process(e, 1, "orders-0@" + e.id());
    if (!(outcome instanceof HandleOutcome.DeadLettered)) {
      throw new AssertionError("expected a dead letter, got " + outcome);
    }
    return e;
  }

  Event poison(String consumer, String key) {
    return deadLetter(consumer, "OrderPlaced", key, e -> new PoisonEventException("bad order " + key));
  }

  long idOf(Event e) {
    return single("SELECT id FROM courier_dead_letters WHERE event_id = ?", e.id());
  }

  long single(String sql, Object... params) {
    List<Map<String, Object>> rows = rows(sql, params);
    return ((Number) rows.getFirst().values().iterator().next()).longValue();
  }

  List<Map<String, Object>> rows(String sql, Object... params) {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      List<Map<String, Object>> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Map<String, Object> row = new java.util.LinkedHashMap<>();
          for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            Object v = rs.getObject(i);
            row.put(rs.getMetaData().getColumnLabel(i), v instanceof byte[] b ? java.util.Arrays.toString(b) : v);
          }
          out.add(row);
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every row of a table as text, to compare before and after a refused request. */
  String snapshot(String table) {
    return rows("SELECT * FROM " + table + " ORDER BY 1").toString();
  }

  boolean ledgerHas(String consumer, UUID eventId) {
    return single(
            "SELECT count(*) FROM courier_processed_events WHERE consumer = ? AND event_id = ?",
            consumer,
            eventId)
        == 1;
  }

  @Override
  public void close() {
    TestDatabase.shared().dropSchema(db);
  }
}
