package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.UuidV7;
import dev.courier.outbox.Outbox;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * W1: what the outbox costs the writer. Three transactions, each a closed loop at 1 and 8 clients:
 * the business row alone; the business row and an outbox row inserted by hand-written JDBC into
 * Courier's own table; the business row and {@link Outbox#append}. The last two write the same
 * column values, so their ratio is what Courier adds beyond the row itself.
 */
final class ProducerCost {
  static final int PAYLOAD = 256;
  private static final String DESTINATION = "orders";
  private static final String PLAIN_INSERT =
      "INSERT INTO courier_outbox (event_id, event_type, destination, event_key, payload, headers,"
          + " correlation_id, causation_id, created_at, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  private ProducerCost() {}

  private enum Variant {
    BUSINESS_ONLY,
    PLAIN_JDBC,
    COURIER
  }

  static void run(RunContext ctx) {
    BenchEnvironment env = ctx.env();
    Outbox outbox = Outbox.builder().build();
    byte[] payload = BenchEvents.payload(PAYLOAD, 7);
    for (int clients : ctx.options().clients()) {
      double businessOnly = Ceilings.businessOnly(ctx, clients);
      HikariDataSource pool = env.freshSchema("w1", clients + 2);
      try {
        List<Variant> order = new ArrayList<>(List.of(Variant.PLAIN_JDBC, Variant.COURIER));
        if (ctx.run() % 2 == 0) {
          // Alternate which variant goes first, so that drift on a shared machine does not
          // always favour the same one.
          order = order.reversed();
        }
        double plain = 0;
        double courier = 0;
        for (Variant v : order) {
          truncate(pool);
          env.checkpoint();
          double tps =
              ClosedLoop.commitsPerSecond(
                  pool,
                  clients,
                  ctx.options().warmup(),
                  ctx.options().duration(),
                  (c, client, seq) -> {
                    long orderId = BenchEvents.orderId(client, seq);
                    BenchEvents.insertOrder(c, orderId);
                    if (v == Variant.PLAIN_JDBC) {
                      plainAppend(c, orderId, payload);
                    } else {
                      outbox.append(c, BenchEvents.event(DESTINATION, orderId, payload));
                    }
                  });
          if (v == Variant.PLAIN_JDBC) {
            plain = tps;
          } else {
            courier = tps;
          }
        }
        String at = clients + " client(s)";
        ctx.add(Workload.W1, "plain." + clients + "c", "business row + hand-written outbox insert, " + at, "tx/s", plain, null);
        ctx.add(Workload.W1, "courier." + clients + "c", "business row + Outbox.append, " + at, "tx/s", courier, null);
        ctx.add(
            Workload.W1,
            "courier_vs_plain." + clients + "c",
            "Outbox.append ÷ the same two inserts in plain JDBC, " + at,
            Figure.RATIO,
            courier / plain,
            Goal.atLeast(0.95));
        ctx.add(
            Workload.W1,
            "courier_vs_none." + clients + "c",
            "Outbox.append ÷ business row only (no outbox row), " + at,
            Figure.RATIO,
            courier / businessOnly,
            null);
      } finally {
        env.discard(pool);
      }
    }
  }

  /** The outbox row as an application would insert it by hand: the same columns and values. */
  private static void plainAppend(Connection c, long orderId, byte[] payload) throws SQLException {
    Timestamp now = Timestamp.from(Instant.now());
    try (PreparedStatement ps = c.prepareStatement(PLAIN_INSERT)) {
      ps.setObject(1, UuidV7.next());
      ps.setString(2, BenchEvents.TYPE);
      ps.setString(3, DESTINATION);
      ps.setString(4, BenchEvents.key(orderId));
      ps.setBytes(5, payload);
      ps.setString(6, "{}");
      ps.setString(7, "corr-" + orderId);
      ps.setNull(8, Types.VARCHAR);
      ps.setTimestamp(9, now);
      ps.setTimestamp(10, now);
      ps.executeUpdate();
    }
  }

  private static void truncate(HikariDataSource pool) {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      c.setAutoCommit(true);
      s.execute("TRUNCATE bench_orders, courier_outbox");
    } catch (SQLException e) {
      throw new IllegalStateException("cannot truncate the W1 tables: " + e.getMessage(), e);
    }
  }
}
