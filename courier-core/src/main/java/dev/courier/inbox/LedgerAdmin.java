package dev.courier.inbox;

import dev.courier.CourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Operator-side view of the processed-events ledger: which consumers have processed an event.
 * Pruning the ledger is {@link dev.courier.admin.Retention}'s job. Thread-safe.
 */
public final class LedgerAdmin {
  private final DataSource dataSource;
  private final CourierTables tables;

  public LedgerAdmin(DataSource dataSource, CourierTables tables) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
  }

  /** A consumer's ledger row for an event. */
  public record Processed(String consumer, Instant processedAt) {}

  /**
   * The consumers whose ledger holds {@code eventId}, by consumer name.
   *
   * @throws CourierException if the ledger cannot be read
   */
  public List<Processed> processedBy(UUID eventId) {
    Objects.requireNonNull(eventId, "eventId");
    String sql =
        "SELECT consumer, processed_at FROM "
            + tables.processedEvents()
            + " WHERE event_id = ? ORDER BY consumer";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, eventId);
      List<Processed> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Processed(rs.getString(1), rs.getTimestamp(2).toInstant()));
        }
      }
      return out;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the ledger " + tables.processedEvents(), eventId, null, e);
    }
  }
}
