package dev.courier.jdbc;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.Transactions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Courier's DDL, shipped as numbered SQL files in the jar under {@code
 * dev/courier/schema/<dialect>/V<n>__<description>.sql} for users' own migration tools, and applied
 * by {@link #migrate}.
 *
 * <p><b>Versions.</b> A shipped version is never edited: every change to the schema is a new
 * numbered file. {@link #migrate} records each version it applies in a version table ({@link
 * CourierTables#schemaVersion()}), applies the missing ones in order in one transaction, and
 * refuses, changing nothing, a schema whose recorded version is newer than the files it knows. A
 * database whose tables were created before the version table existed is at version 1: version 1
 * is written with {@code IF NOT EXISTS} throughout, so it is applied again harmlessly and recorded.
 *
 * <p><b>Log mode</b> is turned on per outbox by {@link #enableLogMode}, after {@link #migrate}.
 */
public final class Schema {
  private static final Logger log = LoggerFactory.getLogger(Schema.class);

  /** The versions this release ships, in order; {@code VERSIONS.get(n - 1)} is version n. */
  private static final List<String> VERSIONS =
      List.of(
          "V1__courier.sql",
          "V2__log_mode.sql",
          "V3__dead_letter_payload_size.sql",
          "V4__consumer_pauses.sql");

  /** The newest schema version this release knows. */
  public static final int LATEST_VERSION = VERSIONS.size();

  /** The oldest PostgreSQL whose {@code server_version_num} version 2 accepts (xid8, pg_snapshot). */
  private static final int POSTGRES_13 = 130000;

  /** Partitions of a log-mode outbox when none are asked for. */
  public static final int DEFAULT_LOG_PARTITIONS = 16;

  /** The most partitions a log-mode outbox may have. */
  public static final int MAX_LOG_PARTITIONS = 1024;

  private Schema() {}

  /** The classpath resource holding one version's DDL for a dialect. */
  public static String resource(Dialect dialect, int version) {
    requireKnown(version);
    return "dev/courier/schema/" + dialect.name() + "/" + VERSIONS.get(version - 1);
  }

  /** The classpath resource holding version 1's DDL for a dialect. */
  public static String resource(Dialect dialect) {
    return resource(dialect, 1);
  }

  /** Every version's DDL for a dialect with the table names filled in, in order, as one script. */
  public static String render(Dialect dialect, CourierTables tables) {
    StringBuilder sql = new StringBuilder();
    for (int v = 1; v <= LATEST_VERSION; v++) {
      sql.append(render(dialect, tables, v)).append('\n');
    }
    return sql.toString();
  }

  /** One version's DDL for a dialect with the table names filled in. */
  public static String render(Dialect dialect, CourierTables tables, int version) {
    String template = read(resource(dialect, version));
    Map<String, String> values =
        Map.ofEntries(
            Map.entry("${outbox}", tables.outbox()),
            Map.entry("${processed_events}", tables.processedEvents()),
            Map.entry("${dead_letters}", tables.deadLetters()),
            Map.entry("${outbox_archive}", tables.outboxArchive()),
            Map.entry("${replays}", tables.replays()),
            Map.entry("${audit}", tables.audit()),
            Map.entry("${outbox_partitions}", tables.outboxPartitions()),
            Map.entry("${outbox_relays}", tables.outboxRelays()),
            Map.entry("${consumer_pauses}", tables.consumerPauses()),
            Map.entry("${outbox_name}", bare(tables.outbox())),
            Map.entry("${processed_events_name}", bare(tables.processedEvents())),
            Map.entry("${dead_letters_name}", bare(tables.deadLetters())),
            Map.entry("${outbox_archive_name}", bare(tables.outboxArchive())),
            Map.entry("${replays_name}", bare(tables.replays())),
            Map.entry("${audit_name}", bare(tables.audit())));
    String sql = template;
    for (var e : values.entrySet()) {
      sql = sql.replace(e.getKey(), e.getValue());
    }
    return sql;
  }

  /** Every version's rendered DDL split into single statements, comments removed. */
  public static List<String> statements(Dialect dialect, CourierTables tables) {
    List<String> out = new ArrayList<>();
    for (int v = 1; v <= LATEST_VERSION; v++) {
      out.addAll(split(render(dialect, tables, v)));
    }
    return out;
  }

  private static List<String> split(String script) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : script.split("\n")) {
      String trimmed = line.strip();
      if (trimmed.startsWith("--") || trimmed.isEmpty()) {
        continue;
      }
      current.append(line).append('\n');
      if (trimmed.endsWith(";")) {
        String stmt = current.toString().strip();
        out.add(stmt.substring(0, stmt.length() - 1));
        current.setLength(0);
      }
    }
    return out;
  }

  /**
   * Brings Courier's tables to the newest version, in one transaction: the versions not yet
   * recorded are applied in order and recorded. Concurrent calls wait for each other. Calling it on
   * an up-to-date schema changes nothing.
   *
   * @return the number of statements applied
   * @throws ConfigurationException if the schema is newer than this release knows (nothing is
   *     changed), or the database is too old for a version to apply
   * @throws CourierException if a statement fails; nothing is changed
   */
  public static int migrate(DataSource dataSource, CourierTables tables) {
    return migrate(dataSource, tables, LATEST_VERSION);
  }

  /**
   * Brings Courier's tables to {@code target}, which may be older than the newest version (for
   * tests of upgrades, and for staged roll-outs). A schema already past {@code target} is left as
   * it is.
   *
   * @return the number of statements applied
   */
  public static int migrate(DataSource dataSource, CourierTables tables, int target) {
    requireKnown(target);
    try {
      return Transactions.inTransaction(dataSource, c -> migrate(c, Dialect.detect(c), tables, target));
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not migrate Courier's tables", e);
    }
  }

  private static int migrate(Connection c, Dialect dialect, CourierTables tables, int target)
      throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS "
              + tables.schemaVersion()
              + " (version INTEGER PRIMARY KEY, description VARCHAR(255) NOT NULL,"
              + " checksum VARCHAR(64) NOT NULL, installed_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      // one migration at a time; a second waits here and then finds the versions recorded
      s.execute("LOCK TABLE " + tables.schemaVersion() + " IN EXCLUSIVE MODE");
    }
    int current = currentVersion(c, tables);
    if (current > LATEST_VERSION) {
      throw new ConfigurationException(
          "schema",
          "Courier's tables ("
              + tables.outbox()
              + ") are at schema version "
              + current
              + ", newer than this release knows (up to "
              + LATEST_VERSION
              + "); nothing was changed. Use the Courier release that migrated them, or a newer one");
    }
    int applied = 0;
    for (int v = current + 1; v <= target; v++) {
      requireServerFor(c, v);
      String template = read(resource(dialect, v));
      try (Statement s = c.createStatement()) {
        for (String stmt : split(render(dialect, tables, v))) {
          s.execute(stmt);
          applied++;
        }
      }
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO " + tables.schemaVersion() + " (version, description, checksum) VALUES (?, ?, ?)")) {
        ps.setInt(1, v);
        ps.setString(2, description(v));
        ps.setString(3, sha256(template));
        ps.executeUpdate();
      }
      log.info("applied Courier schema version {} ({}) to {}", v, description(v), tables.outbox());
    }
    return applied;
  }

  /**
   * The schema version recorded for these tables: 0 when there is no version table or it is empty.
   */
  public static int currentVersion(DataSource dataSource, CourierTables tables) {
    try (Connection c = dataSource.getConnection()) {
      if (!tableExists(c, tables.schemaVersion())) {
        return 0;
      }
      return currentVersion(c, tables);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read Courier's schema version", e);
    }
  }

  private static int currentVersion(Connection c, CourierTables tables) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM " + tables.schemaVersion())) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /**
   * Turns log mode on for an outbox (PostgreSQL): from the commit on, every appended row records its
   * writer's transaction id and starts as {@code LOG}; rows still {@code PENDING} are converted in
   * the same transaction, so a LEASE or LOCK relay still running afterwards finds nothing to claim
   * (stop them first: a batch one of them has in flight is published once more by the log relay,
   * which consumers deduplicate). Rows already published or dead are left as they are. Writers
   * wait for this transaction's lock on the outbox for as long as it takes to convert the pending
   * rows. Calling it again with the same partition count changes nothing.
   *
   * @param partitions how many partitions the outbox is split into (1 to {@value
   *     #MAX_LOG_PARTITIONS}); a key's rows always fall into the same partition, and partitions
   *     are what relays divide among themselves
   * @return the number of pending rows converted
   * @throws ConfigurationException if the schema is older than version 2, the database is not
   *     PostgreSQL, or log mode is already on with another partition count
   */
  public static int enableLogMode(DataSource dataSource, CourierTables tables, int partitions) {
    if (partitions < 1 || partitions > MAX_LOG_PARTITIONS) {
      throw new ConfigurationException(
          "log.partitions", "must be between 1 and " + MAX_LOG_PARTITIONS + ", was " + partitions);
    }
    if (currentVersion(dataSource, tables) < 2) {
      throw new ConfigurationException(
          "schema", "log mode needs Courier's schema version 2 or newer; run 'courier migrate' first");
    }
    try {
      int converted =
          Transactions.inTransaction(
              dataSource,
              c -> {
                Dialect dialect = Dialect.detect(c);
                if (!(dialect instanceof PostgresDialect)) {
                  throw new ConfigurationException(
                      "claimMode", "log mode needs PostgreSQL; this is " + dialect.name());
                }
                try (Statement s = c.createStatement()) {
                  s.execute("LOCK TABLE " + tables.outbox() + " IN ACCESS EXCLUSIVE MODE");
                  int existing = LogSql.partitions(c, tables);
                  if (existing != 0 && existing != partitions) {
                    throw new ConfigurationException(
                        "log.partitions",
                        "the outbox "
                            + tables.outbox()
                            + " is in log mode with "
                            + existing
                            + " partitions; to change the count, drain it and follow"
                            + " docs/OPERATIONS.md (changing the partition count)");
                  }
                  for (String stmt : LogSql.enableStatements(tables, partitions)) {
                    s.execute(stmt);
                  }
                  return s.executeUpdate(LogSql.convertPending(tables));
                }
              });
      log.info(
          "log mode is on for {} with {} partitions; {} pending rows converted",
          tables.outbox(),
          partitions,
          converted);
      return converted;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not turn log mode on for " + tables.outbox(), e);
    }
  }

  /** {@link #enableLogMode(DataSource, CourierTables, int)} with {@value #DEFAULT_LOG_PARTITIONS} partitions. */
  public static int enableLogMode(DataSource dataSource, CourierTables tables) {
    return enableLogMode(dataSource, tables, DEFAULT_LOG_PARTITIONS);
  }

  /**
   * Partitions an empty log-mode outbox by {@code created_at} into tables of one {@code interval}
   * each (PostgreSQL declarative partitioning), so that retention drops old partitions whole
   * instead of deleting rows (see {@link TimePartitions}). The partitions from the current interval
   * to {@value TimePartitions#AHEAD} ahead are created now; {@link #maintainTimePartitions} (which
   * log-mode relays call as they run) creates the later ones. A row whose creation time no
   * partition covers goes to the default partition, so an append never fails for want of one.
   *
   * <p>What changes for the application: the outbox's keys include {@code created_at}, so an event
   * id appended twice is refused only when both appends carry the same creation time (an event
   * built once and appended again, the usual case); grants on the outbox table are not carried
   * over. Calling it on an outbox already partitioned changes nothing.
   *
   * @param interval whole hours, from 1h to 31d
   * @return true if the outbox was partitioned now, false if it already was
   * @throws ConfigurationException if log mode is off, the outbox holds rows, or the interval is
   *     out of range
   */
  public static boolean partitionByTime(DataSource dataSource, CourierTables tables, Duration interval) {
    TimePartitions.checkInterval(interval);
    if (logPartitions(dataSource, tables) == 0) {
      throw new ConfigurationException(
          "time-partitions", "only a log-mode outbox is partitioned by time; turn log mode on first (courier migrate --log-mode)");
    }
    try {
      boolean converted =
          Transactions.inTransaction(
              dataSource,
              c -> {
                if (TimePartitions.isPartitioned(c, tables)) {
                  return false;
                }
                TimePartitions.convert(c, tables, interval, Instant.now());
                return true;
              });
      if (converted) {
        log.info("the outbox {} is partitioned by created_at, {} a partition", tables.outbox(), interval);
      }
      return converted;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not partition " + tables.outbox() + " by time", e);
    }
  }

  /**
   * Creates the time partitions a partitioned outbox needs next, up to {@value
   * TimePartitions#AHEAD} intervals past {@code now}'s; nothing for an outbox not partitioned by
   * time. Safe to run from several processes at once.
   */
  public static TimePartitions.Maintenance maintainTimePartitions(
      DataSource dataSource, CourierTables tables, Instant now) {
    try {
      return Transactions.inTransaction(
          dataSource,
          c -> {
            if (!TimePartitions.isPartitioned(c, tables)) {
              return new TimePartitions.Maintenance(List.of(), List.of());
            }
            // one maintainer at a time; another one at work makes the same partitions
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_try_advisory_xact_lock(hashtext(?))");
                Statement s = c.createStatement()) {
              ps.setString(1, "courier time partitions " + tables.outbox());
              try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                  return new TimePartitions.Maintenance(List.of(), List.of());
                }
              }
              s.execute("SET LOCAL lock_timeout = '5s'");
            }
            return TimePartitions.maintain(c, tables, now);
          });
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not create the next time partitions of " + tables.outbox(), e);
    }
  }

  /**
   * The partition count of a log-mode outbox, or 0 when log mode is off (or the schema predates
   * it).
   */
  public static int logPartitions(DataSource dataSource, CourierTables tables) {
    try (Connection c = dataSource.getConnection()) {
      if (!tableExists(c, tables.outboxPartitions())) {
        return 0;
      }
      return LogSql.partitions(c, tables);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the log partitions of " + tables.outbox(), e);
    }
  }

  private static void requireServerFor(Connection c, int version) throws SQLException {
    if (version < 2) {
      return;
    }
    int server;
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int")) {
      rs.next();
      server = rs.getInt(1);
    }
    if (server < POSTGRES_13) {
      throw new ConfigurationException(
          "database",
          "Courier's schema version 2 needs PostgreSQL 13 or newer (xid8, pg_snapshot); this server"
              + " reports version number "
              + server
              + "; nothing was changed");
    }
  }

  static boolean tableExists(Connection c, String table) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, table);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  private static String description(int version) {
    String file = VERSIONS.get(version - 1);
    return file.substring(file.indexOf("__") + 2, file.length() - ".sql".length()).replace('_', ' ');
  }

  private static void requireKnown(int version) {
    if (version < 1 || version > LATEST_VERSION) {
      throw new IllegalArgumentException(
          "schema version " + version + " is not one of 1.." + LATEST_VERSION);
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  static String bare(String table) {
    int dot = table.indexOf('.');
    return dot < 0 ? table : table.substring(dot + 1);
  }

  private static String read(String resource) {
    try (InputStream in = Schema.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("schema resource missing from the jar (a broken build): " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("could not read schema resource " + resource + " from the jar", e);
    }
  }
}
