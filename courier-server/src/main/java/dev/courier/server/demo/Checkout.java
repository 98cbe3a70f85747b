package dev.courier.server.demo;

import dev.courier.Event;
import dev.courier.outbox.Outbox;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's checkout service: each order is one transaction that inserts the order row and appends
 * its {@code OrderConfirmed} event through the outbox, then commits both, or, for a chosen
 * fraction, rolls both back after the append (a payment declined late, say). A rolled-back event
 * must never reach anyone.
 */
final class Checkout {
  private static final Logger log = LoggerFactory.getLogger(Checkout.class);
  private static final String[] SKUS = {
    "SKU-RED-MUG", "SKU-BLUE-MUG", "SKU-TEAPOT", "SKU-KETTLE", "SKU-SPOON"
  };

  private final DataSource dataSource;
  private final Outbox outbox;
  private final String topic;
  private final double rollbackRate;
  private final DemoStats stats;

  Checkout(
      DataSource dataSource, Outbox outbox, String topic, double rollbackRate, DemoStats stats) {
    this.dataSource = dataSource;
    this.outbox = outbox;
    this.topic = topic;
    this.rollbackRate = rollbackRate;
    this.stats = stats;
  }

  /** Places order number {@code n}; failures are counted, logged and swallowed. */
  void placeOrder(long n) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    UUID orderId = UUID.randomUUID();
    OrderConfirmed order =
        new OrderConfirmed(
            orderId,
            "customer-" + (n % 5000) + "@example.com",
            SKUS[(int) (n % SKUS.length)],
            1 + random.nextInt(3),
            500 + random.nextInt(20_000));
    boolean rollback = random.nextDouble() < rollbackRate;
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO "
                    + DemoTables.ORDERS
                    + " (order_id, customer_email, sku, quantity, amount_cents) VALUES (?, ?, ?, ?,"
                    + " ?)")) {
          ps.setObject(1, orderId);
          ps.setString(2, order.customerEmail());
          ps.setString(3, order.sku());
          ps.setInt(4, order.quantity());
          ps.setLong(5, order.amountCents());
          ps.executeUpdate();
        }
        Event event =
            outbox.append(
                c,
                Event.builder(OrderConfirmed.TYPE)
                    .destination(topic)
                    .key(orderId.toString())
                    .payload(order.toJson())
                    .header("content-type", "application/json")
                    .correlationId(orderId.toString())
                    .causationId("checkout-" + n));
        if (rollback) {
          // Recorded before the rollback: from here on the event id must never be seen anywhere.
          stats.rolledBackEventIds.add(event.id());
          c.rollback();
          stats.ordersRolledBack.increment();
        } else {
          c.commit();
          stats.ordersCommitted.increment();
        }
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException | RuntimeException e) {
      // Neither row exists: the order simply did not happen, as for any failed transaction.
      stats.checkoutFailures.increment();
      log.warn("checkout transaction {} failed and was rolled back: {}", n, e.toString());
    }
  }
}
