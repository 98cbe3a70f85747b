package dev.courier.server.demo;

import dev.courier.inbox.EventHandler;
import java.sql.PreparedStatement;

/**
 * The two downstream services of the demo. Each writes its effect on the connection Courier hands
 * it, so the effect and the processed-events ledger row commit together: a redelivered event finds
 * its ledger row and changes nothing.
 */
final class DemoConsumers {
  static final String INVENTORY = "inventory";
  static final String EMAIL = "email";

  private DemoConsumers() {}

  /** Reserves stock for the order: one row in {@code inventory_reservations}. */
  static EventHandler inventory() {
    return EventHandler.byType()
        .on(
            OrderConfirmed.TYPE,
            (event, connection) -> {
              OrderConfirmed order = OrderConfirmed.from(event);
              try (PreparedStatement ps =
                  connection.prepareStatement(
                      "INSERT INTO "
                          + DemoTables.RESERVATIONS
                          + " (order_id, sku, quantity, event_id) VALUES (?, ?, ?, ?)")) {
                ps.setObject(1, order.orderId());
                ps.setString(2, order.sku());
                ps.setInt(3, order.quantity());
                ps.setObject(4, event.id());
                ps.executeUpdate();
              }
            })
        .build();
  }

  /**
   * "Sends" the order confirmation e-mail. A real e-mail cannot be rolled back, so the demo does
   * what an application should: it records the e-mail in {@code emails_sent} in the handler's
   * transaction (a real system would send it from there, through its own outbox). Counting rows per
   * order shows whether any customer got two.
   */
  static EventHandler email() {
    return EventHandler.byType()
        .on(
            OrderConfirmed.TYPE,
            (event, connection) -> {
              OrderConfirmed order = OrderConfirmed.from(event);
              try (PreparedStatement ps =
                  connection.prepareStatement(
                      "INSERT INTO "
                          + DemoTables.EMAILS
                          + " (order_id, recipient, template, event_id) VALUES (?, ?, ?, ?)")) {
                ps.setObject(1, order.orderId());
                ps.setString(2, order.customerEmail());
                ps.setString(3, "order-confirmation");
                ps.setObject(4, event.id());
                ps.executeUpdate();
              }
            })
        .build();
  }
}
