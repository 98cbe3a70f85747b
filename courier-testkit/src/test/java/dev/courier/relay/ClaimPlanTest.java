package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The claim reads the pending rows in {@code seq} order and stops after its batch, also on a large
 * outbox that was never analysed. Without {@link Dialect#claimPlan()} the planner reads every
 * pending row with a bitmap scan, probes each for its key and sorts them all (1.9 s per claim with
 * 543,000 rows pending, seen in W3's loaded benchmark on a server without autovacuum).
 */
class ClaimPlanTest {
  private static final int PENDING = 50_000;

  @RegisterExtension final RelaySchema schema = new RelaySchema("claim_plan");

  @Test
  void onALargeOutboxWithoutStatistics_bothClaimsReadThePendingIndexInOrder_withoutASort()
      throws Exception {
    fillPending();
    Dialect d = Dialect.POSTGRESQL;

    String unguided = plan(d.claimLocked(CourierTables.DEFAULT), null);
    assumeThat(unguided)
        .as("this PostgreSQL sorts when left to itself (else there is nothing to guard against)")
        .contains("Sort");

    for (String claim : new String[] {d.claim(CourierTables.DEFAULT), d.claimLocked(CourierTables.DEFAULT)}) {
      String guided = plan(claim, d.claimPlan());
      assertThat(guided)
          .as("the claim's plan with %s", d.claimPlan())
          .contains("Index Scan using courier_outbox_pending_ix on courier_outbox o")
          .doesNotContain("Sort")
          .doesNotContain("Bitmap");
    }
  }

  /**
   * A larger batch made LEASE and LOCK relays slower: the claim's estimated cost grows with its
   * limit, and past {@code jit_above_cost} PostgreSQL JIT-compiled it on every call (361 ms measured
   * for a claim of 2,000). The claim's settings keep it interpreted at any batch size.
   */
  @Test
  void claimOfALargeBatch_isNotJitCompiled() throws Exception {
    fillPending();
    try (Connection c = schema.db().getConnection();
        Statement st = c.createStatement()) {
      // as autovacuum leaves a busy outbox: with statistics, the estimate grows with the limit
      st.execute("ANALYZE courier_outbox");
    }
    Dialect d = Dialect.POSTGRESQL;
    String unguided = plan(d.claimLocked(CourierTables.DEFAULT), "SET LOCAL enable_sort = off", 5_000);
    assumeThat(unguided)
        .as("this PostgreSQL has JIT and would compile the claim of a large batch")
        .contains("JIT:");

    for (String claim : new String[] {d.claim(CourierTables.DEFAULT), d.claimLocked(CourierTables.DEFAULT)}) {
      assertThat(plan(claim, d.claimPlan(), 5_000)).as("the claim of 5,000 with %s", d.claimPlan()).doesNotContain("JIT:");
    }
  }

  /** {@value #PENDING} pending rows, each of its own key, in one statement. */
  private void fillPending() throws SQLException {
    try (Connection c = schema.db().getConnection();
        Statement st = c.createStatement()) {
      st.execute(
          "INSERT INTO courier_outbox (event_id, event_type, destination, event_key, payload,"
              + " created_at, available_at) SELECT gen_random_uuid(), 'Step', 'orders', 'k-' || i,"
              + " '\\x00', now(), now() FROM generate_series(1, "
              + PENDING
              + ") i");
    }
  }

  private String plan(String claim, String setting) throws SQLException {
    return plan(claim, setting, 256);
  }

  /** The plan of a claim statement, in a transaction rolled back afterwards. */
  private String plan(String claim, String setting, int limit) throws SQLException {
    try (Connection c = schema.db().getConnection()) {
      c.setAutoCommit(false);
      try {
        if (setting != null) {
          try (Statement st = c.createStatement()) {
            st.execute(setting);
          }
        }
        // with costs, EXPLAIN also says whether the plan would be JIT-compiled
        try (PreparedStatement ps = c.prepareStatement((limit > 256 ? "EXPLAIN " : "EXPLAIN (COSTS OFF) ") + claim)) {
          Timestamp now = Timestamp.from(Instant.now());
          ps.setLong(1, Long.MIN_VALUE);
          ps.setTimestamp(2, now);
          ps.setTimestamp(3, now);
          ps.setLong(4, Long.MIN_VALUE);
          ps.setInt(5, limit);
          if (claim.contains("claimed_by = ?")) {
            ps.setTimestamp(6, now);
            ps.setString(7, "relay-a");
          }
          StringBuilder plan = new StringBuilder();
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              plan.append(rs.getString(1)).append('\n');
            }
          }
          return plan.toString();
        }
      } finally {
        c.rollback();
      }
    }
  }
}
