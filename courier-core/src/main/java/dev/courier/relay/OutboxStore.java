package dev.courier.relay;

import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.internal.HeadersJson;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The relay's reads and writes on the outbox table, each in its own short transaction.
 *
 * <p>The claim and the mark after a confirmation commit without waiting for the WAL flush (see
 * {@link Dialect#relaxedCommit()}). Both are safe to forget: if the database crashes before
 * flushing them, the rows are simply pending again and are published once more, which consumers
 * deduplicate. Failures, dead rows and releases are written with the database's own durability,
 * since they carry information (the error, the decision to stop) that must not vanish.
 */
final class OutboxStore {
  private static final int MAX_ERROR_CHARS = 2000;

  private final DataSource dataSource;
  private final CourierTables tables;
  private volatile Dialect dialect;

  OutboxStore(DataSource dataSource, CourierTables tables) {
    this.dataSource = dataSource;
    this.tables = tables;
  }

  /**
   * Claims up to {@code limit} due rows with {@code seq >= fromSeq} ({@link Long#MIN_VALUE} for
   * all); a pending row below {@code fromSeq} holds back the later rows of its key.
   */
  List<ClaimedRow> claim(int limit, long fromSeq, Instant now, Instant leaseUntil, String relayId)
      throws SQLException {
    try (Connection c = connection()) {
      Dialect d = dialect(c);
      beginRelaxed(c, d);
      List<ClaimedRow> rows = new ArrayList<>(limit);
      try (PreparedStatement ps = c.prepareStatement(d.claim(tables))) {
        Timestamp ts = Timestamp.from(now);
        ps.setLong(1, fromSeq);
        ps.setTimestamp(2, ts);
        ps.setTimestamp(3, ts);
        ps.setLong(4, fromSeq);
        ps.setInt(5, limit);
        ps.setTimestamp(6, Timestamp.from(leaseUntil));
        ps.setString(7, relayId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(read(rs));
          }
        }
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        throw e;
      }
      commit(c);
      rows.sort(Comparator.comparingLong(ClaimedRow::seq));
      return rows;
    }
  }

  /**
   * Opens a transaction whose commit does not wait for the WAL flush, when the dialect has such a
   * setting; its scope is the transaction, so nothing leaks to the pooled connection's next user.
   */
  private static void beginRelaxed(Connection c, Dialect d) throws SQLException {
    String relaxed = d.relaxedCommit();
    if (relaxed == null) {
      return;
    }
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute(relaxed);
    } catch (SQLException e) {
      rollbackQuietly(c, e);
      throw e;
    }
  }

  /** Commits a transaction opened by {@link #beginRelaxed}, or rolls it back on failure. */
  private static void commit(Connection c) throws SQLException {
    if (c.getAutoCommit()) {
      return;
    }
    try {
      c.commit();
    } catch (SQLException e) {
      rollbackQuietly(c, e);
      throw e;
    }
    // back to the state a pool hands out
    c.setAutoCommit(true);
  }

  private static void rollbackQuietly(Connection c, SQLException cause) {
    try {
      if (!c.getAutoCommit()) {
        c.rollback();
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  private static ClaimedRow read(ResultSet rs) throws SQLException {
    long seq = rs.getLong("seq");
    UUID id = rs.getObject("event_id", UUID.class);
    Map<String, String> headers = HeadersJson.decode(rs.getString("headers"));
    Event e =
        new Event(
            id,
            rs.getString("event_type"),
            rs.getString("destination"),
            rs.getString("event_key"),
            rs.getBytes("payload"),
            headers,
            rs.getString("correlation_id"),
            rs.getString("causation_id"),
            rs.getTimestamp("created_at").toInstant());
    return new ClaimedRow(seq, e, rs.getInt("attempts"));
  }

  void markPublished(List<Long> seqs, Instant now) throws SQLException {
    if (seqs.isEmpty()) {
      return;
    }
    try (Connection c = connection()) {
      Dialect d = dialect(c);
      beginRelaxed(c, d);
      try (PreparedStatement ps = c.prepareStatement(d.markPublished(tables))) {
        ps.setTimestamp(1, Timestamp.from(now));
        ps.setArray(2, c.createArrayOf(d.bigintArrayType(), seqs.toArray(Long[]::new)));
        ps.executeUpdate();
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        throw e;
      }
      commit(c);
    }
  }

  void markRetry(long seq, Instant availableAt, String error, String relayId) throws SQLException {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect(c).markRetry(tables))) {
      ps.setTimestamp(1, Timestamp.from(availableAt));
      ps.setString(2, truncate(error));
      ps.setLong(3, seq);
      ps.setString(4, relayId);
      ps.executeUpdate();
    }
  }

  void markDead(long seq, Instant now, String error, String relayId) throws SQLException {
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect(c).markDead(tables))) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setString(2, truncate(error));
      ps.setLong(3, seq);
      ps.setString(4, relayId);
      ps.executeUpdate();
    }
  }

  void release(List<Long> seqs, Instant now, String relayId) throws SQLException {
    if (seqs.isEmpty()) {
      return;
    }
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect(c).release(tables))) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setArray(2, c.createArrayOf(dialect(c).bigintArrayType(), seqs.toArray(Long[]::new)));
      ps.setString(3, relayId);
      ps.executeUpdate();
    }
  }

  private Connection connection() throws SQLException {
    Connection c = dataSource.getConnection();
    c.setAutoCommit(true);
    return c;
  }

  private Dialect dialect(Connection c) {
    Dialect d = dialect;
    if (d == null) {
      d = Dialect.detect(c);
      dialect = d;
    }
    return d;
  }

  static String truncate(String s) {
    if (s == null) {
      return null;
    }
    return s.length() <= MAX_ERROR_CHARS ? s : s.substring(0, MAX_ERROR_CHARS);
  }

  static CourierException wrap(String what, SQLException e) {
    return new CourierException(what + ": " + e.getMessage() + " (SQLState " + e.getSQLState() + ")", e);
  }
}
