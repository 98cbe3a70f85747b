package dev.courier.jdbc;

import dev.courier.ConfigurationException;
import dev.courier.internal.Transactions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.sql.DataSource;

/**
 * A log-mode outbox partitioned by range of {@code created_at} (PostgreSQL declarative
 * partitioning): one table per interval, created ahead of time, plus a default partition that
 * takes any row no range covers (a writer's clock far off, maintenance that did not run), so that
 * an append never fails for want of a partition. Retention drops a whole range partition once all
 * its rows are published, instead of deleting them row by row; the outbox is left with no dead
 * tuples. All of its SQL is here.
 */
public final class TimePartitions {
  /** The shortest interval: partitions of less than an hour would multiply the tables read. */
  public static final Duration MIN_INTERVAL = Duration.ofHours(1);

  /** The longest interval. */
  public static final Duration MAX_INTERVAL = Duration.ofDays(31);

  /** How many intervals ahead of the current one maintenance keeps partitions ready. */
  public static final int AHEAD = 2;

  private static final DateTimeFormatter NAME =
      DateTimeFormatter.ofPattern("yyyyMMdd'_'HHmm", Locale.ROOT).withZone(ZoneOffset.UTC);

  private TimePartitions() {}

  /** One range partition: its table and the instants it covers, {@code [from, to)}. */
  public record Range(String table, Instant from, Instant to) {}

  /** Whether the outbox is partitioned by time. */
  public static boolean isPartitioned(Connection c, CourierTables t) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(?))")) {
      ps.setString(1, t.outbox());
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  /** The range partitions of the outbox, oldest first (the default partition is not among them). */
  public static List<Range> ranges(Connection c, CourierTables t) throws SQLException {
    List<Range> out = new ArrayList<>();
    // pg_get_expr writes the bounds as text with their offset; PostgreSQL reads them back
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT name, b[1]::timestamptz, b[2]::timestamptz FROM (SELECT n.nspname || '.' || k.relname AS name,"
                + " regexp_match(pg_get_expr(k.relpartbound, k.oid), 'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') AS b"
                + " FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid JOIN pg_namespace n ON n.oid = k.relnamespace"
                + " WHERE i.inhparent = to_regclass(?)) r WHERE b IS NOT NULL ORDER BY 2")) {
      ps.setString(1, t.outbox());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Range(rs.getString(1), rs.getTimestamp(2).toInstant(), rs.getTimestamp(3).toInstant()));
        }
      }
    }
    return out;
  }

  /** The outbox's default partition, which takes the rows no range covers. */
  public static String defaultPartition(CourierTables t) {
    return t.outbox() + "_pdefault";
  }

  /** The interval of an outbox's range partitions: that of its newest one. */
  public static Duration interval(List<Range> ranges) {
    Range last = ranges.getLast();
    return Duration.between(last.from(), last.to());
  }

  /**
   * Turns an empty log-mode outbox into one partitioned by {@code created_at}, in the caller's
   * transaction: the table is created again with the same columns, defaults and checks, its
   * primary key and event-id key widened by {@code created_at} (PostgreSQL's rule for keys of a
   * partitioned table), its other indexes as they were, its seq sequence kept; then the default
   * partition and the ranges from the current interval to {@value #AHEAD} ahead.
   *
   * @throws ConfigurationException if the outbox holds any row
   */
  static void convert(Connection c, CourierTables t, Duration interval, Instant now) throws SQLException {
    String outbox = t.outbox();
    String bare = Schema.bare(outbox);
    String fresh = outbox + "_tp";
    List<String> indexes = new ArrayList<>();
    String sequence;
    try (Statement s = c.createStatement()) {
      s.execute("LOCK TABLE " + outbox + " IN ACCESS EXCLUSIVE MODE");
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + outbox)) {
        rs.next();
        long rows = rs.getLong(1);
        if (rows > 0) {
          throw new ConfigurationException(
              "time-partitions",
              "the outbox "
                  + outbox
                  + " holds "
                  + rows
                  + " rows; it is partitioned by time only while empty: let its relays publish"
                  + " everything and prune it (courier prune), then run this again (nothing was changed)");
        }
      }
      try (ResultSet rs =
          s.executeQuery(
              "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass('"
                  + outbox
                  + "') AND NOT i.indisprimary AND NOT i.indisunique ORDER BY i.indexrelid")) {
        while (rs.next()) {
          indexes.add(rs.getString(1));
        }
      }
      try (ResultSet rs = s.executeQuery("SELECT pg_get_serial_sequence('" + outbox + "', 'seq')")) {
        rs.next();
        sequence = rs.getString(1);
      }
      if (sequence != null) {
        s.execute("ALTER SEQUENCE " + sequence + " OWNED BY NONE");
      }
      s.execute(
          "CREATE TABLE "
              + fresh
              + " (LIKE "
              + outbox
              + " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
              + " PARTITION BY RANGE (created_at)");
      s.execute("DROP TABLE " + outbox);
      s.execute("ALTER TABLE " + fresh + " RENAME TO " + bare);
      if (sequence != null) {
        s.execute("ALTER SEQUENCE " + sequence + " OWNED BY " + outbox + ".seq");
      }
      s.execute("ALTER TABLE " + outbox + " ADD CONSTRAINT " + bare + "_pkey PRIMARY KEY (seq, created_at)");
      s.execute(
          "ALTER TABLE " + outbox + " ADD CONSTRAINT " + bare + "_event_id_uk UNIQUE (event_id, created_at)");
      for (String ddl : indexes) {
        s.execute(ddl);
      }
      s.execute("CREATE TABLE " + defaultPartition(t) + " PARTITION OF " + outbox + " DEFAULT");
    }
    Instant first = floor(now, interval);
    for (int i = 0; i <= AHEAD; i++) {
      create(c, t, first.plus(interval.multipliedBy(i)), interval);
    }
  }

  /**
   * Creates the range partitions missing from the newest one to {@value #AHEAD} intervals past
   * {@code now}'s, each in a savepoint of the caller's transaction: a range that rows in the
   * default partition already fall into cannot be created and is skipped (those rows stay in the
   * default partition, which retention prunes row by row).
   *
   * @return the partitions created, and the ranges skipped
   */
  static Maintenance maintain(Connection c, CourierTables t, Instant now) throws SQLException {
    List<Range> ranges = ranges(c, t);
    if (ranges.isEmpty()) {
      return new Maintenance(List.of(), List.of());
    }
    Duration interval = interval(ranges);
    Instant until = floor(now, interval).plus(interval.multipliedBy(AHEAD + 1));
    List<String> created = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    for (Instant from = ranges.getLast().to(); from.isBefore(until); from = from.plus(interval)) {
      java.sql.Savepoint sp = c.setSavepoint();
      try {
        created.add(create(c, t, from, interval));
        c.releaseSavepoint(sp);
      } catch (SQLException e) {
        c.rollback(sp);
        skipped.add(name(t, from) + ": " + e.getMessage());
      }
    }
    return new Maintenance(created, skipped);
  }

  /** What a maintenance pass did. */
  public record Maintenance(List<String> created, List<String> skipped) {}

  private static String create(Connection c, CourierTables t, Instant from, Duration interval) throws SQLException {
    String name = name(t, from);
    try (Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS "
              + name
              + " PARTITION OF "
              + t.outbox()
              + " FOR VALUES FROM ('"
              + from
              + "') TO ('"
              + from.plus(interval)
              + "')");
    }
    return name;
  }

  private static String name(CourierTables t, Instant from) {
    return t.outbox() + "_p" + NAME.format(from);
  }

  /** The start of the interval holding {@code at}, intervals counted from the epoch in UTC. */
  static Instant floor(Instant at, Duration interval) {
    long s = interval.getSeconds();
    return Instant.ofEpochSecond(Math.floorDiv(at.getEpochSecond(), s) * s);
  }

  /**
   * Checks an interval: whole hours, from {@link #MIN_INTERVAL} to {@link #MAX_INTERVAL}.
   *
   * @throws ConfigurationException naming what is wrong
   */
  public static Duration checkInterval(Duration interval) {
    if (interval.compareTo(MIN_INTERVAL) < 0
        || interval.compareTo(MAX_INTERVAL) > 0
        || interval.toSeconds() % 3600 != 0
        || interval.getNano() != 0) {
      throw new ConfigurationException(
          "time-partitions", "must be whole hours from 1h to 31d (for example 1d or 6h), was " + interval);
    }
    return interval;
  }

  /**
   * What {@link #dropPublished} did.
   *
   * @param rows the rows of the partitions dropped (or, for a dry run, that would be)
   * @param dropped the partitions dropped
   * @param kept the partitions old enough but kept, each with why
   */
  public record Dropped(long rows, List<String> dropped, List<String> kept) {}

  /**
   * Drops each range partition of the outbox that ends at or before {@code before} and whose rows
   * are all published (its relays' cursors passed them; none dead or parked), after copying its
   * rows to the archive if {@code archivedAt} is not null; for a dry run, only counts. One
   * transaction a partition, with a lock timeout so that writers never wait long: the partition is
   * locked against writes (relays keep reading it), checked and copied, then detached under a brief
   * exclusive lock of the outbox and dropped. A partition that cannot be locked in time is kept
   * for the next run.
   *
   * @param partitions the outbox's log partition count
   */
  public static Dropped dropPublished(
      DataSource dataSource, CourierTables t, int partitions, Instant before, Instant archivedAt, boolean dryRun)
      throws SQLException {
    List<Range> ranges;
    try (Connection c = dataSource.getConnection()) {
      ranges = ranges(c, t);
    }
    long rows = 0;
    List<String> dropped = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    for (Range range : ranges) {
      if (range.to().isAfter(before)) {
        break;
      }
      long n;
      try {
        n =
            Transactions.inTransaction(
                dataSource,
                c -> {
                  try (Statement s = c.createStatement()) {
                    if (!dryRun) {
                      s.execute("SET LOCAL lock_timeout = '5s'");
                      s.execute("LOCK TABLE " + range.table() + " IN SHARE MODE");
                    }
                    long all;
                    try (ResultSet rs =
                        s.executeQuery(
                            "SELECT count(*) FILTER (WHERE NOT "
                                + LogSql.published(t, partitions, "o")
                                + "), count(*) FROM "
                                + range.table()
                                + " o")) {
                      rs.next();
                      if (rs.getLong(1) > 0) {
                        kept.add(range.table() + ": " + rs.getLong(1) + " rows not published (waiting, dead or parked)");
                        return -1L;
                      }
                      all = rs.getLong(2);
                    }
                    if (dryRun) {
                      return all;
                    }
                    if (archivedAt != null && all > 0) {
                      try (PreparedStatement ps = c.prepareStatement(LogSql.archiveAll(t, range.table()))) {
                        ps.setTimestamp(1, Timestamp.from(archivedAt));
                        ps.executeUpdate();
                      }
                    }
                    s.execute("ALTER TABLE " + t.outbox() + " DETACH PARTITION " + range.table());
                    s.execute("DROP TABLE " + range.table());
                    return all;
                  }
                });
      } catch (SQLException e) {
        if (!"55P03".equals(e.getSQLState())) {
          throw e;
        }
        kept.add(range.table() + ": not locked within 5 s (" + e.getMessage() + ")");
        continue;
      }
      if (n >= 0) {
        rows += n;
        dropped.add(range.table());
      }
    }
    return new Dropped(rows, dropped, kept);
  }
}
