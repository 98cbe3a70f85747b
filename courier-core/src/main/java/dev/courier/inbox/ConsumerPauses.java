package dev.courier.inbox;

import dev.courier.CourierException;
import dev.courier.admin.Attribution;
import dev.courier.admin.AuditLog;
import dev.courier.admin.InvalidRequestException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Which consumers are paused. A paused consumer processes nothing and acknowledges nothing: each
 * {@link IdempotentProcessor} checks its consumer's row at most once a second and, while it is
 * there, answers every delivery with a {@link ConsumerPausedException}, which every transport
 * treats as it treats a database outage (the delivery waits at the broker, no attempt is counted,
 * no dead letter is written). Rows are written by an operator ({@code courier consumer pause}, the
 * admin API, the dashboard) or by the consumer itself when its dead letters pass the threshold of
 * {@link IdempotentProcessor.Builder#autoPause}; removing the row resumes it. Every pause and
 * resume is audited.
 *
 * <p>Thread-safe.
 */
public final class ConsumerPauses {
  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final AuditLog audit;

  public ConsumerPauses(DataSource dataSource, CourierTables tables, Clock clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.audit = new AuditLog(tables);
  }

  /**
   * One paused consumer.
   *
   * @param automatic whether the consumer paused itself (too many dead letters) rather than an
   *     operator pausing it
   */
  public record Pause(String consumer, Instant pausedAt, String pausedBy, String reason, boolean automatic) {}

  /**
   * Pauses {@code consumer}. Pausing a paused consumer changes nothing (its first pause stays).
   *
   * @return true if it was running and is now paused
   * @throws InvalidRequestException if the name is not a consumer name or {@code who} gives no reason
   * @throws CourierException if the database fails; nothing changed
   */
  public boolean pause(String consumer, Attribution who, boolean automatic) {
    requireName(consumer);
    requireReason(who, "pause");
    return change(
        "pause consumer " + consumer,
        c -> {
          Instant now = clock.instant();
          int n;
          try (PreparedStatement ps =
              c.prepareStatement(
                  "INSERT INTO " + tables.consumerPauses() + " (consumer, paused_at, paused_by, reason, automatic)"
                      + " VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer) DO NOTHING")) {
            ps.setString(1, consumer);
            ps.setTimestamp(2, Timestamp.from(now));
            ps.setString(3, who.operator());
            ps.setString(4, who.reason());
            ps.setBoolean(5, automatic);
            n = ps.executeUpdate();
          }
          if (n == 1) {
            audit.record(c, now, who, automatic ? "consumer.auto-pause" : "consumer.pause", consumer, 1, null);
          }
          return n == 1;
        });
  }

  /**
   * Resumes {@code consumer}: its processors take deliveries again within a second.
   *
   * @return true if it was paused
   * @throws InvalidRequestException if the name is not a consumer name or {@code who} gives no reason
   * @throws CourierException if the database fails; nothing changed
   */
  public boolean resume(String consumer, Attribution who) {
    requireName(consumer);
    requireReason(who, "resume");
    return change(
        "resume consumer " + consumer,
        c -> {
          int n;
          try (PreparedStatement ps =
              c.prepareStatement("DELETE FROM " + tables.consumerPauses() + " WHERE consumer = ?")) {
            ps.setString(1, consumer);
            n = ps.executeUpdate();
          }
          if (n == 1) {
            audit.record(c, clock.instant(), who, "consumer.resume", consumer, 1, null);
          }
          return n == 1;
        });
  }

  /**
   * The pause of {@code consumer}, or empty when it runs.
   *
   * @throws SQLException if the table cannot be read (for example, it does not exist yet)
   */
  Optional<Pause> pauseOf(Connection c, String consumer) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT consumer, paused_at, paused_by, reason, automatic FROM " + tables.consumerPauses()
                + " WHERE consumer = ?")) {
      ps.setString(1, consumer);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(pause(rs)) : Optional.empty();
      }
    }
  }

  /** The pause of {@code consumer}, or empty when it runs. */
  public Optional<Pause> pauseOf(String consumer) {
    try (Connection c = dataSource.getConnection()) {
      return pauseOf(c, consumer);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the pause of consumer " + consumer, e);
    }
  }

  /** Every paused consumer, by name. */
  public List<Pause> list() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT consumer, paused_at, paused_by, reason, automatic FROM " + tables.consumerPauses()
                    + " ORDER BY consumer");
        ResultSet rs = ps.executeQuery()) {
      List<Pause> out = new ArrayList<>();
      while (rs.next()) {
        out.add(pause(rs));
      }
      return out;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not list paused consumers", e);
    }
  }

  private static Pause pause(ResultSet rs) throws SQLException {
    return new Pause(
        rs.getString("consumer"),
        rs.getTimestamp("paused_at").toInstant(),
        rs.getString("paused_by"),
        rs.getString("reason"),
        rs.getBoolean("automatic"));
  }

  private boolean change(String what, Transactions.Work<Boolean> work) {
    try {
      return Transactions.inTransaction(dataSource, work);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not " + what, e);
    }
  }

  private static void requireName(String consumer) {
    if (!IdempotentProcessor.isValidConsumerName(consumer)) {
      throw new InvalidRequestException(
          "consumer", "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
  }

  private static void requireReason(Attribution who, String verb) {
    Objects.requireNonNull(who, "who");
    if (who.reason() == null) {
      throw new InvalidRequestException("reason", "a reason is required to " + verb + " a consumer");
    }
  }
}
