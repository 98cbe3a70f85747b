package dev.courier.relay;

import dev.courier.Event;
import dev.courier.internal.HeadersJson;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import dev.courier.jdbc.LogSql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
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
  private final boolean deletePublished;
  private volatile Dialect dialect;

  OutboxStore(DataSource dataSource, CourierTables tables) {
    this(dataSource, tables, false);
  }

  /**
   * @param deletePublished delete confirmed rows instead of marking them {@code PUBLISHED}
   */
  OutboxStore(DataSource dataSource, CourierTables tables, boolean deletePublished) {
    this.dataSource = dataSource;
    this.tables = tables;
    this.deletePublished = deletePublished;
  }

  /**
   * Claims up to {@code limit} due rows with {@code seq >= fromSeq} ({@link Long#MIN_VALUE} for
   * all); a pending row below {@code fromSeq} holds back the later rows of its key.
   */
  List<ClaimedRow> claim(int limit, long fromSeq, Instant now, Instant leaseUntil, String relayId)
      throws SQLException {
    try (Connection c = connection()) {
      Dialect d = dialect(c);
      List<ClaimedRow> rows = new ArrayList<>(limit);
      try (PreparedStatement ps = c.prepareStatement(d.claim(tables))) {
        // one round trip for both settings, in the claim's own transaction
        setLocal(c, d.relaxedCommit(), d.claimPlan());
        bindCandidates(ps, limit, fromSeq, now);
        ps.setTimestamp(6, Timestamp.from(leaseUntil));
        ps.setString(7, relayId);
        readAll(ps, rows);
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
   * Claims like {@link #claim}, but holds the rows by locking them in a transaction that stays open
   * until {@link #finish} or {@link #abandon}: nothing is written to claim them. The caller must end
   * the batch one way or the other, or its connection stays checked out. If the transaction stays
   * idle longer than {@code holdLimit} (the relay hangs), the database ends its session and the
   * rows are pending again.
   */
  HeldBatch claimLocked(int limit, long fromSeq, Instant now, Duration holdLimit) throws SQLException {
    Connection c = connection();
    try {
      Dialect d = dialect(c);
      c.setAutoCommit(false);
      setLocal(c, d.claimPlan(), d.idleTransactionTimeout(holdLimit.toMillis()));
      List<ClaimedRow> rows = new ArrayList<>(limit);
      try (PreparedStatement ps = c.prepareStatement(d.claimLocked(tables))) {
        bindCandidates(ps, limit, fromSeq, now);
        readAll(ps, rows);
      }
      rows.sort(Comparator.comparingLong(ClaimedRow::seq));
      if (rows.isEmpty()) {
        // nothing to hold; end the transaction now (the locks of dropped candidates with it)
        c.rollback();
        c.setAutoCommit(true);
        c.close();
        return new HeldBatch(null, d, rows);
      }
      return new HeldBatch(c, d, rows);
    } catch (SQLException | RuntimeException e) {
      closeAfterFailure(c, e);
      throw e;
    }
  }

  /**
   * Records a held batch's outcome and commits, which releases its rows: the confirmed ones
   * published, the failed ones scheduled for a retry or parked as dead, the rest (neither listed)
   * pending as they were. When nothing failed, the commit does not wait for the WAL flush (see the
   * class comment); a failure or a dead row is committed with the database's own durability.
   */
  void finish(HeldBatch batch, List<Long> published, List<Failure> failures, Instant now)
      throws SQLException {
    if (batch.connection == null) {
      return;
    }
    Connection c = batch.connection;
    Dialect d = batch.dialect;
    try {
      if (!published.isEmpty()) {
        setPublished(c, d, published, now, d.markPublishedLocked(tables));
      }
      for (Failure f : failures) {
        try (PreparedStatement ps =
            c.prepareStatement(f.dead() ? d.markDeadLocked(tables) : d.markRetryLocked(tables))) {
          ps.setTimestamp(1, Timestamp.from(f.dead() ? now : f.availableAt()));
          ps.setInt(2, f.attempts());
          ps.setString(3, truncate(f.error()));
          ps.setLong(4, f.seq());
          ps.executeUpdate();
        }
      }
      if (failures.isEmpty()) {
        // read at commit time, so setting it last still applies to the whole transaction
        setLocal(c, d.relaxedCommit());
      }
      c.commit();
      c.setAutoCommit(true);
      c.close();
    } catch (SQLException | RuntimeException e) {
      closeAfterFailure(c, e);
      throw e;
    }
  }

  /** Ends a held batch without writing anything: its rows are pending again, as they were. */
  void abandon(HeldBatch batch) throws SQLException {
    if (batch.connection == null) {
      return;
    }
    Connection c = batch.connection;
    try {
      c.rollback();
      c.setAutoCommit(true);
      c.close();
    } catch (SQLException | RuntimeException e) {
      closeAfterFailure(c, e);
      throw e;
    }
  }

  private static void closeAfterFailure(Connection c, Exception cause) {
    try {
      if (!c.getAutoCommit()) {
        c.rollback();
      }
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
    try {
      c.close();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  /** Rows locked by an open claim transaction (no connection when nothing was claimed). */
  static final class HeldBatch {
    private final Connection connection;
    private final Dialect dialect;
    private final List<ClaimedRow> rows;

    private HeldBatch(Connection connection, Dialect dialect, List<ClaimedRow> rows) {
      this.connection = connection;
      this.dialect = dialect;
      this.rows = rows;
    }

    List<ClaimedRow> rows() {
      return rows;
    }
  }

  /** A failed publish of a held row: retried at {@code availableAt}, or parked as dead. */
  record Failure(long seq, boolean dead, Instant availableAt, int attempts, String error) {}

  /** Commits a transaction opened by {@link #setLocal}, or rolls it back on failure. */
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

  /**
   * Runs transaction-scoped settings ({@code SET LOCAL}) in one round trip, opening the
   * connection's transaction if needed; the null ones are skipped, and nothing runs if all are.
   * Being transaction-scoped, none leaks to the pooled connection's next user.
   */
  private static void setLocal(Connection c, String... statements) throws SQLException {
    StringBuilder sql = new StringBuilder();
    for (String statement : statements) {
      if (statement != null) {
        sql.append(sql.isEmpty() ? "" : "; ").append(statement);
      }
    }
    if (sql.isEmpty()) {
      return;
    }
    if (c.getAutoCommit()) {
      c.setAutoCommit(false);
    }
    try (Statement st = c.createStatement()) {
      st.execute(sql.toString());
    }
  }

  /** The parameters both claim statements start with (see {@link Dialect#claim}). */
  private static void bindCandidates(PreparedStatement ps, int limit, long fromSeq, Instant now)
      throws SQLException {
    Timestamp ts = Timestamp.from(now);
    ps.setLong(1, fromSeq);
    ps.setTimestamp(2, ts);
    ps.setTimestamp(3, ts);
    ps.setLong(4, fromSeq);
    ps.setInt(5, limit);
  }

  private static void readAll(PreparedStatement ps, List<ClaimedRow> into) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        into.add(read(rs));
      }
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
      try {
        setLocal(c, d.relaxedCommit());
        setPublished(c, d, seqs, now, d.markPublished(tables));
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        throw e;
      }
      commit(c);
    }
  }

  /** Marks the rows published with {@code markSql}, or deletes them when the store keeps no history. */
  private void setPublished(Connection c, Dialect d, List<Long> seqs, Instant now, String markSql)
      throws SQLException {
    java.sql.Array array = c.createArrayOf(d.bigintArrayType(), seqs.toArray(Long[]::new));
    if (deletePublished) {
      try (PreparedStatement ps = c.prepareStatement(d.deletePublished(tables))) {
        ps.setArray(1, array);
        ps.executeUpdate();
      }
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(markSql)) {
      ps.setTimestamp(1, Timestamp.from(now));
      ps.setArray(2, array);
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

  /**
   * The outbox's log partition count, 0 when it is not in log mode: a LEASE or LOCK relay on a
   * log-mode outbox would find none of its rows (they are never {@code PENDING}).
   */
  int logPartitions() throws SQLException {
    try (Connection c = connection()) {
      return LogSql.partitions(c, tables);
    }
  }

  /** The destinations of the pending rows, in no particular order. */
  java.util.Set<String> pendingDestinations() throws SQLException {
    java.util.Set<String> destinations = new java.util.TreeSet<>();
    try (Connection c = connection();
        PreparedStatement ps = c.prepareStatement(dialect(c).pendingDestinations(tables));
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        destinations.add(rs.getString(1));
      }
    }
    return destinations;
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
}
