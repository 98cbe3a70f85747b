package dev.courier.server.demo;

import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * The SQL behind the demo's progress and report. Table names are constants or validated {@link
 * CourierTables} names; values are bound as parameters.
 */
final class DemoQueries {
  private final DataSource dataSource;
  private final CourierTables tables;

  DemoQueries(DataSource dataSource, CourierTables tables) {
    this.dataSource = dataSource;
    this.tables = tables;
  }

  long ordersCommitted() {
    return count("SELECT count(*) FROM " + DemoTables.ORDERS);
  }

  long outboxPending() {
    return count("SELECT count(*) FROM " + tables.outbox() + " WHERE status = 'PENDING'");
  }

  long outboxDead() {
    return count("SELECT count(*) FROM " + tables.outbox() + " WHERE status = 'DEAD'");
  }

  /** Outbox rows whose order does not exist: an event of a rolled-back transaction. */
  long outboxPhantoms() {
    return count(
        "SELECT count(*) FROM "
            + tables.outbox()
            + " ob WHERE NOT EXISTS (SELECT 1 FROM "
            + DemoTables.ORDERS
            + " o WHERE o.order_id::text = ob.event_key)");
  }

  long effects(String effectTable) {
    return count("SELECT count(*) FROM " + effectTable);
  }

  /** Rows in the processed-events ledger for one consumer. */
  long ledger(String consumer) {
    return count(
        "SELECT count(*) FROM " + tables.processedEvents() + " WHERE consumer = ?", consumer);
  }

  long deadLetters(String consumer) {
    return count("SELECT count(*) FROM " + tables.deadLetters() + " WHERE consumer = ?", consumer);
  }

  /** The largest number of effect rows for one order (must be at most 1). */
  long maxEffectsPerOrder(String effectTable) {
    return count(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM "
            + effectTable
            + " GROUP BY order_id) per_order");
  }

  /** Committed orders with no effect row: lost events. */
  long lost(String effectTable) {
    return count(
        "SELECT count(*) FROM "
            + DemoTables.ORDERS
            + " o WHERE NOT EXISTS (SELECT 1 FROM "
            + effectTable
            + " e WHERE e.order_id = o.order_id)");
  }

  /** Effect rows whose order does not exist: effects of a rolled-back transaction. */
  long phantoms(String effectTable) {
    return count(
        "SELECT count(*) FROM "
            + effectTable
            + " e WHERE NOT EXISTS (SELECT 1 FROM "
            + DemoTables.ORDERS
            + " o WHERE o.order_id = e.order_id)");
  }

  private long count(String sql, Object... params) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw DatabaseFailures.of("demo query failed", e);
    }
  }
}
