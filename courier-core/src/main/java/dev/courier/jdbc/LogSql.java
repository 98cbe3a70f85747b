package dev.courier.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * The SQL of log mode (PostgreSQL 13+): the outbox read as an append-only log, split into
 * partitions by a stable hash of each row's destination and key, each partition read through a
 * cursor of two snapshots. Public for the relay's store only; not an API.
 *
 * <p>A row belongs to the partition {@code hashtext(destination || '/' || key) mod N}, with the
 * event id standing in for a missing key, so a key's rows always share a partition and keyless
 * rows spread evenly. The hash is computed by the indexes, at append, and by the relay's queries,
 * never stored: {@code hashtext} is immutable, and the same on every PostgreSQL since 8.4.
 *
 * <p>Every statement binds values as parameters; only table names (checked by {@link
 * CourierTables}) and the partition count (an integer) are interpolated.
 */
public final class LogSql {
  private LogSql() {}

  /** The partition of a row of {@code alias} (empty for none) in an outbox of {@code n} partitions. */
  static String partitionOf(String alias, int n) {
    String a = alias.isEmpty() ? "" : alias + ".";
    return "mod(hashtext("
        + a
        + "destination || '/' || COALESCE("
        + a
        + "event_key, "
        + a
        + "event_id::text)) & 2147483647, "
        + n
        + ")";
  }

  /** The statements that turn log mode on (see {@link Schema#enableLogMode}); idempotent. */
  static List<String> enableStatements(CourierTables t, int n) {
    String name = Schema.bare(t.outbox()) + "_log" + n;
    String p = partitionOf("", n);
    return List.of(
        // pages of a partition in seq order
        "CREATE INDEX IF NOT EXISTS " + name + "_seq_ix ON " + t.outbox() + " ((" + p + "), seq)"
            + " WHERE status = 'LOG'",
        // the rows of the transactions a new snapshot shows, found by transaction id
        "CREATE INDEX IF NOT EXISTS " + name + "_txid_ix ON " + t.outbox() + " ((" + p + "), txid)"
            + " WHERE status = 'LOG'",
        // the keys a partition's dead and parked rows hold back
        "CREATE INDEX IF NOT EXISTS " + name + "_parked_ix ON " + t.outbox() + " ((" + p + "))"
            + " WHERE status IN ('DEAD', 'PARKED') AND txid IS NOT NULL",
        "INSERT INTO " + t.outboxPartitions() + " (partition_no, partition_count, done_snapshot)"
            + " SELECT g, " + n + ", '1:1:'::pg_snapshot FROM generate_series(0, " + (n - 1) + ") g"
            + " ON CONFLICT (partition_no) DO NOTHING",
        "ALTER TABLE " + t.outbox() + " ALTER COLUMN txid SET DEFAULT pg_current_xact_id()",
        "ALTER TABLE " + t.outbox() + " ALTER COLUMN status SET DEFAULT 'LOG'");
  }

  /** Converts the pending rows of an outbox turning to log mode, in the enabling transaction. */
  static String convertPending(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'LOG', txid = pg_current_xact_id(), claimed_by = NULL WHERE status = 'PENDING'";
  }

  /** The partition count recorded for an outbox, 0 when log mode is off. */
  public static int partitions(Connection c, CourierTables t) throws SQLException {
    if (!Schema.tableExists(c, t.outboxPartitions())) {
      return 0;
    }
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT COALESCE(MAX(partition_count), 0) FROM " + t.outboxPartitions())) {
      rs.next();
      return rs.getInt(1);
    }
  }


  /**
   * Opens a batch in each of several partitions, in one statement: the statement's own snapshot
   * ({@code pg_current_snapshot()}, the one the statement reads with, the same for every partition)
   * and, per partition, the first and last seq and the count of the rows it shows that the
   * partition's done snapshot did not. Parameters: {@code int[]} partitions, {@code text[]} their
   * done snapshots' xmin, {@code text[]} their xmax, {@code text[]} their running transactions (comma
   * separated). Columns: partition, snapshot, first seq, last seq, count.
   */
  public static String openBatches(CourierTables t, int n) {
    // The two halves of "new since the done snapshot" as two ranges of the (partition, txid)
    // index. Each is ordered by txid, which with sorting off (see SESSION_SETTINGS) only that
    // index provides: without statistics, the planner counts the (partition, seq) index as just
    // as good and reads the whole partition through it.
    // The transactions running at the done snapshot lie between its xmin and its xmax: a range,
    // so that the index is not read from the partition's start up to the xmax.
    String part = partitionOf("o", n) + " = p.no AND o.status = 'LOG' AND ";
    return "SELECT p.no, pg_current_snapshot()::text, MIN(b.seq), MAX(b.seq), COUNT(b.seq)"
        + " FROM unnest(?::int[], ?::text[], ?::text[], ?::text[]) AS p(no, xmin, xmax, xip)"
        + " LEFT JOIN LATERAL ((SELECT o.seq FROM "
        + t.outbox()
        + " o WHERE "
        + part
        + "o.txid >= p.xmax::xid8 ORDER BY o.txid) UNION ALL (SELECT o.seq FROM "
        + t.outbox()
        + " o WHERE "
        + part
        + "o.txid >= p.xmin::xid8 AND o.txid < p.xmax::xid8 AND o.txid = ANY(string_to_array(p.xip, ',')::xid8[])"
        + " ORDER BY o.txid)) b"
        + " ON true GROUP BY p.no";
  }

  /**
   * A page of an open batch, in seq order: the partition's rows after a seq and up to the batch's
   * last, whose transaction the batch snapshot shows and the done snapshot did not. Parameters:
   * partition, after-seq, up-to-seq, done xmax (text), done running transactions ({@code text[]}),
   * batch snapshot (text), limit.
   */
  public static String page(CourierTables t, int n) {
    return "SELECT seq, txid::text AS txid, event_id, event_type, destination, event_key, payload,"
        + " headers, correlation_id, causation_id, created_at, attempts FROM "
        + t.outbox()
        + " WHERE "
        + partitionOf("", n)
        + " = ? AND status = 'LOG' AND seq > ? AND seq <= ? AND "
        + newSince("?::xid8", "?::text[]::xid8[]")
        + " AND pg_visible_in_snapshot(txid, ?::pg_snapshot) ORDER BY seq LIMIT ?";
  }

  /**
   * A page of several partitions' common open batch, in seq order, each row with its partition.
   * Parameters as {@link #page}, with an {@code int[]} of partitions first. Read through the
   * primary key in seq order: one sequential pass instead of one per partition.
   */
  public static String pageMany(CourierTables t, int n) {
    return "SELECT " + partitionOf("", n) + " AS partition_no, seq, txid::text AS txid, event_id,"
        + " event_type, destination, event_key, payload, headers, correlation_id, causation_id,"
        + " created_at, attempts FROM "
        + t.outbox()
        + " WHERE "
        + partitionOf("", n)
        + " = ANY(?) AND status = 'LOG' AND seq > ? AND seq <= ? AND "
        + newSince("?::xid8", "?::text[]::xid8[]")
        + " AND pg_visible_in_snapshot(txid, ?::pg_snapshot) ORDER BY seq LIMIT ?";
  }

  // Rows whose transaction the done snapshot did not show: at or past its xmax, or in its list of
  // transactions running then. Written as a range plus a list rather than with
  // pg_visible_in_snapshot, so that the txid index serves both: rows of transactions that ended
  // before the done snapshot are never read, even while a long transaction holds the snapshot's
  // xmin far back.
  private static String newSince(String xmax, String xip) {
    return "(txid >= " + xmax + " OR txid = ANY(" + xip + "))";
  }

  /**
   * The session settings of the connection a log-mode relay holds while it runs, as name and
   * value; the relay restores the connection's own values before it gives the connection back.
   *
   * <ul>
   *   <li>Every statement is planned with its arguments, never from a plan kept on the connection
   *       (the driver prepares a statement on the server after a few uses, and PostgreSQL may then
   *       keep one plan for all arguments), so that a plan made while the log was nearly empty
   *       is not kept as it grows.
   *   <li>No sort, no bitmap scan, no sequential scan, no parallel workers: a page is read by an
   *       ordered index scan that stops at its limit, and the opening of batches by ranges of the
   *       transaction-id index. Misled by the expression index's estimates, the planner would
   *       rather read every new row of the partition by transaction id and sort them all (44 ms
   *       against 12 ms for a page of 2,000 of 6,000 rows of 1 KB); and before the table's
   *       statistics are gathered it opened batches by reading every row of each partition (7 ms
   *       and growing, 3,538 buffers a partition, after a minute at 167 events/s).
   *   <li>No JIT compilation, whose cost (hundreds of milliseconds past {@code jit_above_cost})
   *       statements this short never earn back.
   *   <li>Commits do not wait for the WAL flush: a cursor or heartbeat write lost in a database
   *       crash costs a duplicate publish, never an event. Writes that must last (taking a
   *       partition, parking rows) set the connection's own value again for their transaction.
   * </ul>
   */
  public static final List<Map.Entry<String, String>> SESSION_SETTINGS =
      List.of(
          Map.entry("plan_cache_mode", "force_custom_plan"),
          Map.entry("enable_sort", "off"),
          Map.entry("enable_bitmapscan", "off"),
          Map.entry("enable_seqscan", "off"),
          Map.entry("max_parallel_workers_per_gather", "0"),
          Map.entry("jit", "off"),
          Map.entry("synchronous_commit", "off"));

  /** The current values of settings, in the order given. Parameter: {@code text[]} names. */
  public static final String READ_SETTINGS =
      "SELECT current_setting(s.name) FROM unnest(?::text[]) WITH ORDINALITY AS s(name, i) ORDER BY s.i";

  /**
   * Sets settings for the session, or for the transaction. Parameters: {@code text[]} names,
   * {@code text[]} values, whether for the transaction only.
   */
  public static final String WRITE_SETTINGS =
      "SELECT set_config(s.name, s.value, ?) FROM unnest(?::text[], ?::text[]) AS s(name, value)";

  /**
   * Registers a relay or renews its heartbeat. {@code started_at} tells the relay processes that
   * use one id apart: the row is renewed only by the process that registered it, or taken over
   * once its heartbeat is older than the lease; no row is written when another live process holds
   * the id. Parameters: relay id, this process's start time, lease seconds.
   */
  public static String heartbeat(CourierTables t) {
    return "INSERT INTO "
        + t.outboxRelays()
        + " AS r (relay_id, heartbeat_at, started_at) VALUES (?, now(), ?)"
        + " ON CONFLICT (relay_id) DO UPDATE SET heartbeat_at = now(), started_at = EXCLUDED.started_at"
        + " WHERE r.started_at = EXCLUDED.started_at OR r.heartbeat_at < now() - make_interval(secs => ?)";
  }

  /**
   * The relays whose heartbeat is more recent than a number of seconds, by id; relays silent ten
   * times as long are forgotten first. Parameters: seconds.
   */
  public static String liveRelays(CourierTables t) {
    return "SELECT relay_id FROM " + t.outboxRelays() + " WHERE heartbeat_at > now() - make_interval(secs => ?)"
        + " ORDER BY relay_id";
  }

  /** Forgets relays silent for longer than a number of seconds. Parameters: seconds. */
  public static String forgetRelays(CourierTables t) {
    return "DELETE FROM " + t.outboxRelays() + " WHERE heartbeat_at < now() - make_interval(secs => ?)";
  }

  /** A relay process leaving (not another one given its id). Parameters: relay id, its start time. */
  public static String leave(CourierTables t) {
    return "DELETE FROM " + t.outboxRelays() + " WHERE relay_id = ? AND started_at = ?";
  }

  /** Every partition's owner and whether its lease runs. */
  public static String partitionOwners(CourierTables t) {
    return "SELECT partition_no, owner, lease_until > now() AS leased FROM "
        + t.outboxPartitions()
        + " ORDER BY partition_no";
  }

  /**
   * Takes a partition that is free, expired or already this relay's, under a new epoch.
   * Parameters: relay id, lease seconds, partition, relay id. Returns the epoch and the cursor.
   */
  public static String acquire(CourierTables t) {
    return "UPDATE "
        + t.outboxPartitions()
        + " SET owner = ?, epoch = epoch + 1, lease_until = now() + make_interval(secs => ?),"
        + " updated_at = now() WHERE partition_no = ? AND (owner IS NULL OR owner = ?"
        + " OR lease_until IS NULL OR lease_until < now())"
        + " RETURNING epoch, done_snapshot::text, batch_snapshot::text, batch_position";
  }

  /**
   * Writes a partition's cursor, fenced by the epoch: no row is updated once another relay took the
   * partition. With {@code release}, the partition is given up as well; otherwise its lease is
   * renewed. Parameters: done snapshot, batch snapshot, batch position, lease seconds (unless
   * released), partition, owner, epoch.
   */
  public static String checkpoint(CourierTables t, boolean release) {
    return "UPDATE "
        + t.outboxPartitions()
        + " SET done_snapshot = ?::pg_snapshot, batch_snapshot = ?::pg_snapshot, batch_position = ?,"
        + (release ? " owner = NULL, lease_until = NULL," : " lease_until = now() + make_interval(secs => ?),")
        + " updated_at = now() WHERE partition_no = ? AND owner = ? AND epoch = ?";
  }

  /**
   * Writes several partitions' cursors in one statement and renews their leases, each fenced by
   * its own epoch: a partition another relay took is left alone and missing from the result.
   * Parameters: lease seconds, {@code int[]} partitions, {@code bigint[]} epochs, {@code text[]}
   * done snapshots, {@code text[]} batch snapshots, {@code bigint[]} batch positions (both null
   * between batches), owner. Column: the partitions written.
   */
  public static String checkpointMany(CourierTables t) {
    return "UPDATE "
        + t.outboxPartitions()
        + " p SET done_snapshot = v.done::pg_snapshot, batch_snapshot = v.batch::pg_snapshot,"
        + " batch_position = v.pos, lease_until = now() + make_interval(secs => ?), updated_at = now()"
        + " FROM unnest(?::int[], ?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS v(no, epoch, done, batch, pos)"
        + " WHERE p.partition_no = v.no AND p.owner = ? AND p.epoch = v.epoch RETURNING p.partition_no";
  }

  /**
   * Parks a log row as dead, unless an operator's replay has stamped it anew since it was read.
   * Parameters: dead-at, attempts, last error, seq, txid (text).
   */
  public static String markDead(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'DEAD', dead_at = ?, attempts = ?, last_error = ?"
        + " WHERE seq = ? AND status = 'LOG' AND txid = ?::xid8";
  }

  /**
   * Parks a log row behind an earlier dead row of its key, unless a replay has stamped it anew
   * since it was read. Parameters: reason, seq, txid (text).
   */
  public static String markParked(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'PARKED', last_error = ? WHERE seq = ? AND status = 'LOG' AND txid = ?::xid8";
  }

  /**
   * The rows of a log-mode outbox not yet published, per destination: count and oldest creation.
   * A row is published once its transaction is visible in its partition's done snapshot, or in the
   * open batch's snapshot at or below the batch's position. Parked rows count as waiting.
   */
  public static String unpublished(CourierTables t, int n) {
    return "SELECT o.destination, COUNT(*), MIN(o.created_at) FROM "
        + t.outbox()
        + " o JOIN "
        + t.outboxPartitions()
        + " p ON p.partition_no = "
        + partitionOf("o", n)
        + " WHERE (o.status = 'PARKED' OR (o.status = 'LOG'"
        + " AND o.txid >= pg_snapshot_xmin(p.done_snapshot)"
        + " AND NOT pg_visible_in_snapshot(o.txid, p.done_snapshot)"
        + " AND NOT (p.batch_snapshot IS NOT NULL AND pg_visible_in_snapshot(o.txid, p.batch_snapshot)"
        + " AND o.seq <= p.batch_position)))"
        + " GROUP BY o.destination";
  }

  /**
   * True for a row of alias {@code o} that a log-mode relay has published: a {@code LOG} row whose
   * transaction its partition's done snapshot shows. (Rows of an open batch below its position are
   * published too, but are left for the batch to close: a narrower test, never a wrong one.)
   */
  public static String published(CourierTables t, int n, String o) {
    return "(" + o + ".status = 'LOG' AND EXISTS (SELECT 1 FROM "
        + t.outboxPartitions()
        + " p WHERE p.partition_no = "
        + partitionOf(o, n)
        + " AND pg_visible_in_snapshot(" + o + ".txid, p.done_snapshot)))";
  }

  /**
   * Copies every row of {@code table} (a time partition of the outbox whose rows are all
   * published) to the archive, published at their creation time as retention's row-by-row move
   * does. One parameter: the archiving time.
   */
  static String archiveAll(CourierTables t, String table) {
    return "INSERT INTO "
        + t.outboxArchive()
        + " (event_id, event_type, destination, event_key, payload, headers, correlation_id,"
        + " causation_id, created_at, published_at, archived_at) SELECT event_id, event_type,"
        + " destination, event_key, payload, headers, correlation_id, causation_id, created_at,"
        + " COALESCE(published_at, created_at), ? FROM "
        + table
        + " ON CONFLICT (event_id) DO UPDATE SET published_at = EXCLUDED.published_at,"
        + " archived_at = EXCLUDED.archived_at";
  }

  /**
   * Puts dead log rows back for publishing, stamped with the replaying transaction's id, together
   * with the rows of their keys parked behind them and their keys' later rows not yet published,
   * so that the key's events go out again in their order. {@code filter} narrows the dead rows
   * picked ({@code AND ...} on alias {@code d}, or empty).
   */
  public static String replayDead(CourierTables t, int n, String filter) {
    return "WITH picked AS (SELECT d.seq, d.destination, d.event_key FROM "
        + t.outbox()
        + " d WHERE d.status = 'DEAD' AND d.txid IS NOT NULL "
        + filter
        + ") UPDATE "
        + t.outbox()
        + " o SET status = 'LOG', txid = pg_current_xact_id(), attempts = 0, dead_at = NULL,"
        + " last_error = NULL, claimed_by = NULL FROM "
        + t.outboxPartitions()
        + " p WHERE p.partition_no = "
        + partitionOf("o", n)
        + " AND (o.seq IN (SELECT seq FROM picked) OR (o.event_key IS NOT NULL AND EXISTS (SELECT 1 FROM"
        + " picked k WHERE k.destination = o.destination AND k.event_key = o.event_key AND o.seq > k.seq)"
        + " AND (o.status = 'PARKED' OR (o.status = 'LOG'"
        + " AND NOT pg_visible_in_snapshot(o.txid, p.done_snapshot)))))";
  }

  /** The keys a partition's dead and parked log rows hold back. Parameters: partition. */
  public static String parkedKeys(CourierTables t, int n) {
    return "SELECT DISTINCT destination, event_key FROM "
        + t.outbox()
        + " WHERE "
        + partitionOf("", n)
        + " = ? AND status IN ('DEAD', 'PARKED') AND txid IS NOT NULL AND event_key IS NOT NULL";
  }
}
