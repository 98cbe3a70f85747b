package dev.courier.server.demo;

import dev.courier.internal.DatabaseFailures;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * The demo's business tables, in the run's own schema next to Courier's.
 *
 * <p>The effect tables deliberately have no unique constraint on {@code order_id}: the
 * processed-events ledger alone must keep each effect to one row per order, and if it ever failed
 * the report would see the second row instead of a constraint hiding it.
 */
final class DemoTables {
  private DemoTables() {}

  static final String ORDERS = "orders";
  static final String RESERVATIONS = "inventory_reservations";
  static final String EMAILS = "emails_sent";

  static void create(DataSource ds) {
    String[] ddl = {
      "CREATE TABLE "
          + ORDERS
          + " ("
          + " order_id UUID PRIMARY KEY,"
          + " customer_email VARCHAR(255) NOT NULL,"
          + " sku VARCHAR(64) NOT NULL,"
          + " quantity INTEGER NOT NULL,"
          + " amount_cents BIGINT NOT NULL,"
          + " created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
      "CREATE TABLE "
          + RESERVATIONS
          + " ("
          + " id BIGSERIAL PRIMARY KEY,"
          + " order_id UUID NOT NULL,"
          + " sku VARCHAR(64) NOT NULL,"
          + " quantity INTEGER NOT NULL,"
          + " event_id UUID NOT NULL,"
          + " reserved_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
      "CREATE INDEX " + RESERVATIONS + "_order_ix ON " + RESERVATIONS + " (order_id)",
      "CREATE TABLE "
          + EMAILS
          + " ("
          + " id BIGSERIAL PRIMARY KEY,"
          + " order_id UUID NOT NULL,"
          + " recipient VARCHAR(255) NOT NULL,"
          + " template VARCHAR(64) NOT NULL,"
          + " event_id UUID NOT NULL,"
          + " sent_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
      "CREATE INDEX " + EMAILS + "_order_ix ON " + EMAILS + " (order_id)"
    };
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      for (String sql : ddl) {
        s.execute(sql);
      }
    } catch (SQLException e) {
      throw DatabaseFailures.of("cannot create the demo's tables", e);
    }
  }
}
