package dev.courier.relay;

import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.internal.HeadersJson;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;

/** The relay's reads and writes on the outbox table, each in its own short transaction. */
final class OutboxStore {
  private static final int MAX_ERROR_CHARS = 2000;

  private final DataSource dataSource;
  private final CourierTables tables;
  private volatile Dialect dialect;

  OutboxStore(DataSource dataSource, CourierTables tables) {
    this.dataSource = dataSource;
    this.tables = tables;
  }

  List<ClaimedRow> claim(int limit, Instant now, Instant leaseUntil, String relayId) throws SQLException {
    try (Connection c = connection()) {
      Dialect d = dialect(c);
      List<ClaimedRow> rows = new ArrayList<>(limit);
      try (PreparedStatement ps = c.prepareStatement(d.claim(tables))) {
        Timestamp ts = Timestamp.from(now);
        ps.setTimestamp(1, ts);
        ps.setTimestamp(2, ts);
        ps.setInt(3, limit);
        ps.setTimestamp(4, Timestamp.from(leaseUntil));
        ps.setString(5, relayId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(read(rs));
          }
        }
      }
      rows.sort(Comparator.comparingLong(ClaimedRow::seq));
      return rows;
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
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect(c).markPublished(tables))) {
      ps.setTimestamp(1, Timestamp.from(now));
      Array arr = c.createArrayOf(dialect(c).bigintArrayType(), seqs.toArray(Long[]::new));
      ps.setArray(2, arr);
      ps.executeUpdate();
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
