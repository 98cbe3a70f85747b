package dev.courier.relay;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.internal.HeadersJson;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.LogSql;
import dev.courier.jdbc.Schema;
import dev.courier.jdbc.TimePartitions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The log-mode relay's reads and writes: partitions and their cursors, batches and their pages, and
 * the rows it parks.
 *
 * <p>Every call runs on a connection the store holds between calls (taken from the data source
 * at the first call, given back after a minute, on an error, and at {@link #close()}), with the
 * session settings of {@link LogSql#SESSION_SETTINGS}: a page, the opening of batches and a cursor
 * write are then one round trip each instead of three or four, which on a busy machine is most of
 * their time. The connection's own values of those settings are restored before it goes back.
 * Pages read ahead on another thread use a second such connection, borrowed for each page, so
 * that the relay can read its next page while it writes cursors and opens batches on the first;
 * calls on one connection are serialized.
 */
final class LogStore implements AutoCloseable {
  /** How long the store keeps its connection before giving it back and taking one again. */
  static final Duration SESSION_LIFETIME = Duration.ofMinutes(1);

  private static final String[] SETTING_NAMES =
      LogSql.SESSION_SETTINGS.stream().map(Map.Entry::getKey).toArray(String[]::new);
  private static final String[] SETTING_VALUES =
      LogSql.SESSION_SETTINGS.stream().map(Map.Entry::getValue).toArray(String[]::new);

  private final DataSource dataSource;
  private final CourierTables tables;
  private final int partitions;
  private final String openBatches;
  private final String page;
  private final String pageMany;
  private final String parkedKeys;
  private final String checkpointMany;
  private final Session main = new Session();
  private final Session reader = new Session();

  private LogStore(DataSource dataSource, CourierTables tables, int partitions) {
    this.dataSource = dataSource;
    this.tables = tables;
    this.partitions = partitions;
    this.openBatches = LogSql.openBatches(tables, partitions);
    this.page = LogSql.page(tables, partitions);
    this.checkpointMany = LogSql.checkpointMany(tables);
    this.pageMany = LogSql.pageMany(tables, partitions);
    this.parkedKeys = LogSql.parkedKeys(tables, partitions);
  }

  /**
   * The store of a log-mode outbox.
   *
   * @throws ConfigurationException if log mode is not on for the outbox
   */
  static LogStore open(DataSource dataSource, CourierTables tables) throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      int n = LogSql.partitions(c, tables);
      if (n < 1) {
        throw new ConfigurationException(
            "claimMode",
            "the outbox "
                + tables.outbox()
                + " is not in log mode; turn it on with 'courier migrate --log-mode'"
                + " (Schema.enableLogMode) after stopping its LEASE or LOCK relays");
      }
      return new LogStore(dataSource, tables, n);
    }
  }

  int partitions() {
    return partitions;
  }

  /**
   * Creates the time partitions the outbox needs next, if it is partitioned by time (see {@link
   * Schema#maintainTimePartitions}).
   */
  TimePartitions.Maintenance maintainTimePartitions(Instant now) {
    return Schema.maintainTimePartitions(dataSource, tables, now);
  }

  /** A snapshot as PostgreSQL writes it, {@code xmin:xmax:xip,...}, with its parts. */
  record Snapshot(String text, String xmax, String[] running) {
    static Snapshot parse(String text) {
      String[] parts = text.split(":", -1);
      if (parts.length != 3) {
        throw new IllegalArgumentException("not a pg_snapshot: " + text);
      }
      String[] running = parts[2].isEmpty() ? new String[0] : parts[2].split(",");
      return new Snapshot(text, parts[1], running);
    }

    /** The oldest transaction still running when the snapshot was taken (its xmax if none was). */
    String xmin() {
      return text.substring(0, text.indexOf(':'));
    }
  }

  /** A partition taken by this relay: its epoch and its cursor. */
  record Acquired(long epoch, Snapshot done, Snapshot batch, long position) {}

  /** What a new snapshot shows in one partition that its done snapshot did not. */
  record Opened(int partition, Snapshot snapshot, long first, long last, long count) {}

  /**
   * Registers the relay or renews its heartbeat.
   *
   * @param startedAt when this relay process started: another process using the same id is told
   *     apart by it
   * @return false if another live relay process holds the id (nothing was written)
   */
  boolean heartbeat(String relayId, Instant startedAt, Duration lease) throws SQLException {
    return onSession(
        c -> {
          try (PreparedStatement ps = c.prepareStatement(LogSql.heartbeat(tables))) {
            ps.setString(1, relayId);
            ps.setTimestamp(2, Timestamp.from(startedAt));
            ps.setDouble(3, lease.toMillis() / 1000.0);
            return ps.executeUpdate() > 0;
          }
        });
  }

  /** The live relays, by id, after forgetting those silent for ten leases. */
  List<String> liveRelays(Duration lease) throws SQLException {
    return liveRelays(lease, true);
  }

  /**
   * The live relays, by id.
   *
   * @param forget first forget the relays silent for ten leases
   */
  List<String> liveRelays(Duration lease, boolean forget) throws SQLException {
    return onSession(
        c -> {
          if (forget) {
            try (PreparedStatement ps = c.prepareStatement(LogSql.forgetRelays(tables))) {
              ps.setDouble(1, lease.multipliedBy(10).toMillis() / 1000.0);
              ps.executeUpdate();
            }
          }
          List<String> live = new ArrayList<>();
          try (PreparedStatement ps = c.prepareStatement(LogSql.liveRelays(tables))) {
            ps.setDouble(1, lease.toMillis() / 1000.0);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                live.add(rs.getString(1));
              }
            }
          }
          return live;
        });
  }

  void leave(String relayId, Instant startedAt) throws SQLException {
    onSession(
        c -> {
          try (PreparedStatement ps = c.prepareStatement(LogSql.leave(tables))) {
            ps.setString(1, relayId);
            ps.setTimestamp(2, Timestamp.from(startedAt));
            return ps.executeUpdate();
          }
        });
  }

  /** Each partition's owner while its lease runs (absent: free or expired). */
  Map<Integer, String> owners() throws SQLException {
    return onSession(
        c -> {
          Map<Integer, String> owners = new HashMap<>();
          try (Statement s = c.createStatement();
              ResultSet rs = s.executeQuery(LogSql.partitionOwners(tables))) {
            while (rs.next()) {
              if (rs.getString(2) != null && rs.getBoolean(3)) {
                owners.put(rs.getInt(1), rs.getString(2));
              }
            }
          }
          return owners;
        });
  }

  /** Takes a partition if it is free, expired or this relay's; null if another relay holds it. */
  Acquired acquire(int partition, String relayId, Duration lease) throws SQLException {
    // a new epoch must survive a database crash: the owner it fences may still be publishing
    return main.inDurableTransaction(
        c -> {
          try (PreparedStatement ps = c.prepareStatement(LogSql.acquire(tables))) {
            ps.setString(1, relayId);
            ps.setDouble(2, lease.toMillis() / 1000.0);
            ps.setInt(3, partition);
            ps.setString(4, relayId);
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                return null;
              }
              String batch = rs.getString(3);
              long position = rs.getLong(4);
              return new Acquired(
                  rs.getLong(1),
                  Snapshot.parse(rs.getString(2)),
                  batch == null ? null : Snapshot.parse(batch),
                  batch == null ? 0 : position);
            }
          }
        });
  }

  /** The keys ({@link LogRelay#keyOf}) that dead and parked rows of a partition hold back. */
  Set<String> parkedKeys(int partition) throws SQLException {
    return onSession(
        c -> {
          Set<String> keys = new HashSet<>();
          try (PreparedStatement ps = c.prepareStatement(parkedKeys)) {
            ps.setInt(1, partition);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                keys.add(LogRelay.keyOf(rs.getString(1), rs.getString(2)));
              }
            }
          }
          return keys;
        });
  }

  /**
   * Opens a batch in each given partition with one new snapshot.
   *
   * @param done each partition's done snapshot
   */
  List<Opened> openBatches(Map<Integer, Snapshot> done) throws SQLException {
    if (done.isEmpty()) {
      return List.of();
    }
    Integer[] parts = new Integer[done.size()];
    String[] xmin = new String[done.size()];
    String[] xmax = new String[done.size()];
    String[] xip = new String[done.size()];
    int i = 0;
    for (var e : done.entrySet()) {
      parts[i] = e.getKey();
      xmin[i] = e.getValue().xmin();
      xmax[i] = e.getValue().xmax();
      xip[i] = String.join(",", e.getValue().running());
      i++;
    }
    return onSession(
        c -> {
          List<Opened> opened = new ArrayList<>(done.size());
          try (PreparedStatement ps = c.prepareStatement(openBatches)) {
            ps.setArray(1, c.createArrayOf("integer", parts));
            ps.setArray(2, c.createArrayOf("text", xmin));
            ps.setArray(3, c.createArrayOf("text", xmax));
            ps.setArray(4, c.createArrayOf("text", xip));
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                opened.add(
                    new Opened(
                        rs.getInt(1), Snapshot.parse(rs.getString(2)), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
              }
            }
          }
          return opened;
        });
  }

  /**
   * Up to {@code limit} rows of the partitions' common open batch after {@code after}, in seq order,
   * each with its partition. One partition is read through its own seq index; several through the
   * primary key in seq order, one scan instead of one per partition.
   */
  List<LogRelay.Row> page(
      List<Integer> partitions, Snapshot done, Snapshot batch, long after, long last, int limit, boolean ahead)
      throws SQLException {
    boolean one = partitions.size() == 1;
    if (ahead) {
      // the reader's connection goes back to the pool after each page: a relay holds one
      // connection between passes, as before, and relays sharing a pool with writers starve nobody
      try {
        return readPage(reader, partitions, done, batch, after, last, limit, one);
      } finally {
        reader.release();
      }
    }
    return readPage(main, partitions, done, batch, after, last, limit, one);
  }

  private List<LogRelay.Row> readPage(
      Session session,
      List<Integer> partitions,
      Snapshot done,
      Snapshot batch,
      long after,
      long last,
      int limit,
      boolean one)
      throws SQLException {
    return session.run(
        c -> {
          List<LogRelay.Row> rows = new ArrayList<>(Math.min(limit, 16384));
          try (PreparedStatement ps = c.prepareStatement(one ? page : pageMany)) {
            int i = 1;
            if (one) {
              ps.setInt(i++, partitions.getFirst());
              ps.setLong(i++, after);
              ps.setLong(i++, last);
            } else {
              ps.setArray(i++, c.createArrayOf("integer", partitions.toArray(Integer[]::new)));
              ps.setLong(i++, after);
              ps.setLong(i++, last);
            }
            ps.setString(i++, done.xmax());
            ps.setArray(i++, c.createArrayOf("text", done.running()));
            ps.setString(i++, batch.text());
            ps.setInt(i, limit);
            ps.setFetchSize(Math.min(limit, 4096));
            try (ResultSet rs = ps.executeQuery()) {
              int first = one ? 1 : 2;
              while (rs.next()) {
                LogRelay.Row r = read(rs, first);
                r.partition = one ? partitions.getFirst() : rs.getInt(1);
                rows.add(r);
              }
            }
          }
          return rows;
        });
  }

  /**
   * A row of a page, its columns read by position from {@code first} on, in the order {@link
   * LogSql#page} selects them ({@link LogSql#pageMany} puts the partition before them): a column
   * read by name costs a lookup for each column of every row.
   */
  private static LogRelay.Row read(ResultSet rs, int first) throws SQLException {
    int i = first;
    long seq = rs.getLong(i++);
    String txid = rs.getString(i++);
    UUID id = rs.getObject(i++, UUID.class);
    String type = rs.getString(i++);
    String destination = rs.getString(i++);
    String key = rs.getString(i++);
    byte[] payload = rs.getBytes(i++);
    Map<String, String> headers = HeadersJson.decode(rs.getString(i++));
    String correlationId = rs.getString(i++);
    String causationId = rs.getString(i++);
    Instant createdAt = rs.getTimestamp(i++).toInstant();
    int attempts = rs.getInt(i);
    Event e = new Event(id, type, destination, key, payload, headers, correlationId, causationId, createdAt);
    return new LogRelay.Row(seq, txid, e, attempts);
  }

  private void park(Connection c, List<Park> parks, Instant now) throws SQLException {
    for (Park p : parks) {
      try (PreparedStatement ps =
          c.prepareStatement(p.dead() ? LogSql.markDead(tables) : LogSql.markParked(tables))) {
        if (p.dead()) {
          ps.setTimestamp(1, Timestamp.from(now));
          ps.setInt(2, p.attempts());
          ps.setString(3, OutboxStore.truncate(p.error()));
          ps.setLong(4, p.seq());
          ps.setString(5, p.txid());
        } else {
          ps.setString(1, "parked behind an earlier dead event of its key; replay that one first");
          ps.setLong(2, p.seq());
          ps.setString(3, p.txid());
        }
        ps.executeUpdate();
      }
    }
  }

  /** A row to park as dead (with its error) or behind its key's dead row, as read (its txid). */
  record Park(long seq, String txid, String key, boolean dead, int attempts, String error) {}

  /** A partition's cursor as a checkpoint writes it. */
  record Cursor(int partition, long epoch, Snapshot done, Snapshot batch, long position) {}

  /**
   * Writes the cursors of several partitions and renews their leases, and parks rows, in one
   * transaction: one statement for the cursors, each fenced by its epoch; the parks only of the
   * partitions still this relay's.
   *
   * @param parks rows to park, by partition
   * @return the partitions written; one missing is no longer this relay's under its epoch
   */
  Set<Integer> checkpoint(
      String relayId, List<Cursor> cursors, Map<Integer, List<Park>> parks, Duration lease, Instant now)
      throws SQLException {
    boolean parking = parks.values().stream().anyMatch(p -> !p.isEmpty());
    // a cursor write alone is one statement, and one lost in a database crash costs a duplicate
    // publish, never an event; parked rows must last
    return run(
        parking,
        c -> {
          Set<Integer> kept = new HashSet<>();
          int n = cursors.size();
          Integer[] partitionNos = new Integer[n];
          Long[] epochs = new Long[n];
          String[] done = new String[n];
          String[] batch = new String[n];
          Long[] positions = new Long[n];
          for (int i = 0; i < n; i++) {
            Cursor k = cursors.get(i);
            partitionNos[i] = k.partition();
            epochs[i] = k.epoch();
            done[i] = k.done().text();
            batch[i] = k.batch() == null ? null : k.batch().text();
            positions[i] = k.batch() == null ? null : k.position();
          }
          try (PreparedStatement ps = c.prepareStatement(checkpointMany)) {
            ps.setDouble(1, lease.toMillis() / 1000.0);
            ps.setArray(2, c.createArrayOf("integer", partitionNos));
            ps.setArray(3, c.createArrayOf("bigint", epochs));
            ps.setArray(4, c.createArrayOf("text", done));
            ps.setArray(5, c.createArrayOf("text", batch));
            ps.setArray(6, c.createArrayOf("bigint", positions));
            ps.setString(7, relayId);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                kept.add(rs.getInt(1));
              }
            }
          }
          for (Map.Entry<Integer, List<Park>> e : parks.entrySet()) {
            if (kept.contains(e.getKey())) {
              park(c, e.getValue(), now);
            }
          }
          return kept;
        });
  }

  /**
   * Writes a partition's cursor and renews its lease, and parks rows, in one transaction fenced
   * by the epoch.
   *
   * @param release give the partition up as well
   * @return false if the partition is no longer this relay's under this epoch (nothing written)
   */
  boolean checkpoint(
      int partition,
      String relayId,
      long epoch,
      Snapshot done,
      Snapshot batch,
      long position,
      List<Park> parks,
      Duration lease,
      boolean release,
      Instant now)
      throws SQLException {
    return run(
        !parks.isEmpty(),
        c -> {
          try (PreparedStatement ps = c.prepareStatement(LogSql.checkpoint(tables, release))) {
            int i = 1;
            ps.setString(i++, done.text());
            if (batch == null) {
              ps.setNull(i++, Types.VARCHAR);
              ps.setNull(i++, Types.BIGINT);
            } else {
              ps.setString(i++, batch.text());
              ps.setLong(i++, position);
            }
            if (!release) {
              ps.setDouble(i++, lease.toMillis() / 1000.0);
            }
            ps.setInt(i++, partition);
            ps.setString(i++, relayId);
            ps.setLong(i, epoch);
            if (ps.executeUpdate() == 0) {
              return false; // fenced: nothing was written, and nothing more is
            }
          }
          park(c, parks, now);
          return true;
        });
  }

  // ---------------------------------------------------------------- the store's connections

  private <T> T run(boolean durable, Transactions.Work<T> work) throws SQLException {
    return durable ? main.inDurableTransaction(work) : main.run(work);
  }

  /** Runs statements on the store's main connection, each committing on its own. */
  private <T> T onSession(Transactions.Work<T> work) throws SQLException {
    return main.run(work);
  }

  /**
   * One connection of the store, taken from the pool with the log's session settings and given
   * back now and then. The main one serves ownership, batches and cursors; pages are read on a
   * second one, so that a page can be read on another thread while the relay writes a cursor.
   */
  private final class Session {
    private Connection connection;
    private long since;
    private boolean autoCommit;
    private String[] originals;

    /** Runs statements on this connection, each committing on its own. */
    synchronized <T> T run(Transactions.Work<T> work) throws SQLException {
      Connection c = connection();
      try {
        return work.run(c);
      } catch (SQLException | RuntimeException e) {
        release();
        throw e;
      }
    }

    /**
     * Runs statements in one transaction whose commit waits for the WAL flush as the connection's
     * own setting says (the store's session does not wait).
     */
    synchronized <T> T inDurableTransaction(Transactions.Work<T> work) throws SQLException {
      Connection c = connection();
      try {
        c.setAutoCommit(false);
        writeSettings(
            c, new String[] {"synchronous_commit"}, new String[] {originalSynchronousCommit()}, true);
        T result = work.run(c);
        c.commit();
        c.setAutoCommit(true);
        return result;
      } catch (SQLException | RuntimeException e) {
        release();
        throw e;
      }
    }

    private String originalSynchronousCommit() {
      return originals[List.of(SETTING_NAMES).indexOf("synchronous_commit")];
    }

    private Connection connection() throws SQLException {
      if (connection != null && System.nanoTime() - since > SESSION_LIFETIME.toNanos()) {
        // given back now and then, so that the pool can retire it and a proxy in between can move it
        release();
      }
      if (connection == null) {
        Connection c = dataSource.getConnection();
        try {
          boolean wasAutoCommit = c.getAutoCommit();
          if (!wasAutoCommit) {
            c.setAutoCommit(true);
          }
          int n = SETTING_NAMES.length;
          String[] read = new String[n];
          try (PreparedStatement ps = c.prepareStatement(LogSql.READ_SETTINGS)) {
            ps.setArray(1, c.createArrayOf("text", SETTING_NAMES));
            try (ResultSet rs = ps.executeQuery()) {
              for (int i = 0; i < n && rs.next(); i++) {
                read[i] = rs.getString(1);
              }
            }
          }
          writeSettings(c, SETTING_NAMES, SETTING_VALUES, false);
          autoCommit = wasAutoCommit;
          originals = read;
        } catch (SQLException | RuntimeException e) {
          c.close();
          throw e;
        }
        connection = c;
        since = System.nanoTime();
      }
      return connection;
    }

    /**
     * Gives the connection back, with its own settings restored. A connection that cannot be
     * restored (broken, most likely) is aborted rather than handed to another user of the pool with
     * the store's settings.
     */
    synchronized void release() {
      Connection c = connection;
      connection = null;
      if (c == null) {
        return;
      }
      try {
        if (!c.getAutoCommit()) {
          c.rollback();
          c.setAutoCommit(true);
        }
        writeSettings(c, SETTING_NAMES, originals, false);
        if (!autoCommit) {
          c.setAutoCommit(false);
        }
      } catch (SQLException | RuntimeException e) {
        try {
          c.abort(Runnable::run);
        } catch (SQLException | RuntimeException ignored) {
          // closed below in any case
        }
      } finally {
        try {
          c.close();
        } catch (SQLException ignored) {
          // nothing more to do with it
        }
      }
    }
  }

  private static void writeSettings(Connection c, String[] names, String[] values, boolean local)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(LogSql.WRITE_SETTINGS)) {
      ps.setBoolean(1, local);
      ps.setArray(2, c.createArrayOf("text", names));
      ps.setArray(3, c.createArrayOf("text", values));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          // one row per setting
        }
      }
    }
  }

  /** Gives the store's connections back; the next call takes one again. */
  @Override
  public void close() {
    main.release();
    reader.release();
  }
}
