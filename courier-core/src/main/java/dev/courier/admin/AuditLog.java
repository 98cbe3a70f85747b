package dev.courier.admin;

import dev.courier.CourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The operators' audit trail: one row per mutation (who, when, what, why). Writers call {@link
 * #record} on the connection of the change itself, so the change and its audit row commit
 * together. Thread-safe.
 */
public final class AuditLog {
  private final CourierTables tables;

  public AuditLog(CourierTables tables) {
    this.tables = Objects.requireNonNull(tables, "tables");
  }

  /**
   * Adds an entry in the caller's transaction.
   *
   * @throws SQLException if the insert fails; the caller rolls back its change
   */
  public void record(
      Connection c,
      Instant at,
      Attribution who,
      String action,
      String target,
      int affected,
      String replayId)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO "
                + tables.audit()
                + " (at, operator, action, reason, target, affected, replay_id)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?)")) {
      ps.setTimestamp(1, Timestamp.from(at));
      ps.setString(2, who.operator());
      ps.setString(3, action);
      ps.setString(4, who.reason());
      ps.setString(5, target);
      ps.setInt(6, affected);
      ps.setString(7, replayId);
      ps.executeUpdate();
    }
  }

  /** The most entries {@link #latest} returns in one call. */
  public static final int MAX_LATEST = 1_000;

  /**
   * The latest entries, newest first.
   *
   * @param limit how many, 1 to {@value #MAX_LATEST}
   * @throws InvalidRequestException if {@code limit} is out of that range
   * @throws CourierException if the audit table cannot be read
   */
  public List<AuditEntry> latest(DataSource dataSource, int limit) {
    if (limit < 1 || limit > MAX_LATEST) {
      throw new InvalidRequestException("limit", "must be between 1 and " + MAX_LATEST + ", was " + limit);
    }
    String sql =
        "SELECT id, at, operator, action, reason, target, affected, replay_id FROM "
            + tables.audit()
            + " ORDER BY id DESC LIMIT ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, limit);
      List<AuditEntry> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(
              new AuditEntry(
                  rs.getLong("id"),
                  rs.getTimestamp("at").toInstant(),
                  rs.getString("operator"),
                  rs.getString("action"),
                  rs.getString("reason"),
                  rs.getString("target"),
                  rs.getInt("affected"),
                  rs.getString("replay_id")));
        }
      }
      return out;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the audit trail " + tables.audit(), e);
    }
  }
}
