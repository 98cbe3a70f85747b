package dev.courier.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.CourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.LogSql;
import dev.courier.jdbc.TimePartitions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes what Courier no longer needs, past configurable horizons:
 *
 * <ul>
 *   <li>the processed-events ledger: rows processed longer ago than the ledger horizon. <b>Trade-off:
 *       deduplication holds only inside this horizon.</b> An event redelivered or replayed after its
 *       ledger row is gone is processed again; keep the horizon longer than any redelivery,
 *       retry or replay you expect (broker retention, dead-letter replays, history replays);
 *   <li>the outbox: rows published longer ago than the published horizon, moved to the archive
 *       (or deleted when archiving is off);
 *   <li>the archive: events published longer ago than the archive horizon;
 *   <li>resolved dead letters: those replayed or discarded longer ago than the dead-letter horizon
 *       (dead and parked ones always stay, whatever their age);
 *   <li>the audit trail: entries older than the audit horizon (by default kept for ever).
 * </ul>
 *
 * <p>Deletes run in batches of {@value #BATCH} rows, each its own short transaction, so that pruning
 * a large backlog holds no long transaction (which would hold back vacuum and slow the relay's
 * claims). A {@link Policy} horizon of {@code null} leaves that table alone. One audit row records
 * what a run removed. Thread-safe.
 */
public final class Retention {
  private static final Logger log = LoggerFactory.getLogger(Retention.class);
  static final int BATCH = 5_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final AuditLog audit;

  public Retention(DataSource dataSource, CourierTables tables, Clock clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.audit = new AuditLog(tables);
  }

  /**
   * The horizons of one prune.
   *
   * @param ledger ledger rows older than this go, or {@code null} to keep them
   * @param published published outbox rows older than this leave the outbox, or {@code null}
   * @param archive archived events older than this go, or {@code null}
   * @param archivePublished move published rows to the archive (true) or delete them (false)
   */
  public record Policy(
      Duration ledger,
      Duration published,
      Duration archive,
      boolean archivePublished,
      Duration resolvedDeadLetters,
      Duration audit) {
    public Policy {
      check("ledger", ledger);
      check("published", published);
      check("archive", archive);
      check("deadLetters", resolvedDeadLetters);
      check("audit", audit);
    }

    /** A policy that keeps resolved dead letters and the audit trail. */
    public Policy(Duration ledger, Duration published, Duration archive, boolean archivePublished) {
      this(ledger, published, archive, archivePublished, null, null);
    }

    private static void check(String name, Duration d) {
      if (d != null && d.compareTo(Duration.ofMinutes(1)) < 0) {
        throw new InvalidRequestException(name, "a retention horizon must be at least 1 minute, was " + d);
      }
    }
  }

  /**
   * What a prune removed (or, for a dry run, would remove).
   *
   * @param ledgerRows ledger rows deleted
   * @param outboxRows published rows removed from the outbox
   * @param archivedRows of those, how many were copied to the archive
   * @param archiveRows archived events deleted
   * @param deadLetterRows resolved dead letters deleted
   * @param auditRows audit entries deleted
   * @param dryRun true when nothing was changed
   */
  public record Result(
      long ledgerRows,
      long outboxRows,
      long archivedRows,
      long archiveRows,
      long deadLetterRows,
      long auditRows,
      boolean dryRun) {

    /** A result of a prune that left dead letters and the audit trail alone. */
    public Result(long ledgerRows, long outboxRows, long archivedRows, long archiveRows, boolean dryRun) {
      this(ledgerRows, outboxRows, archivedRows, archiveRows, 0, 0, dryRun);
    }
  }

  /**
   * Prunes as the policy says.
   *
   * @throws CourierException if the database fails; batches already committed stay removed
   */
  public Result prune(Policy policy, boolean dryRun, Attribution who) {
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(who, "who");
    Instant now = clock.instant();
    try {
      // the ledger has no key of its own beyond (consumer, event_id): its rows go by ctid
      long ledger =
          pruneRows(policy.ledger(), tables.processedEvents(), "ctid", "processed_at < ?", now, dryRun);
      long outbox = 0;
      long archived = 0;
      if (policy.published() != null) {
        Instant before = now.minus(policy.published());
        int partitions = logPartitions();
        // a log-mode outbox partitioned by time: whole partitions go, and row by row only what the
        // default partition holds
        String source = tables.outbox();
        if (partitions > 0 && timePartitioned()) {
          TimePartitions.Dropped d =
              TimePartitions.dropPublished(
                  dataSource, tables, partitions, before, policy.archivePublished() ? now : null, dryRun);
          outbox += d.rows();
          archived += policy.archivePublished() ? d.rows() : 0;
          if (!d.dropped().isEmpty()) {
            log.info("retention {} the outbox partitions {}", dryRun ? "would drop" : "dropped", d.dropped());
          }
          if (!d.kept().isEmpty()) {
            log.info("retention kept outbox partitions old enough to drop: {}", d.kept());
          }
          source = TimePartitions.defaultPartition(tables);
        }
        // log mode: rows its relays have published carry no publish time; their creation decides
        String published = publishedCondition(partitions);
        if (dryRun) {
          long n = count(source + " o WHERE " + published, before);
          outbox += n;
          archived += policy.archivePublished() ? n : 0;
        } else if (policy.archivePublished()) {
          long[] moved = archiveInBatches(source, published, before, now);
          outbox += moved[0];
          archived += moved[1];
        } else {
          outbox +=
              deleteInBatches(
                  "DELETE FROM " + source + " WHERE seq IN (SELECT o.seq FROM " + source
                      + " o WHERE " + published + " LIMIT " + BATCH + ")",
                  before);
        }
      }
      long archive =
          pruneRows(policy.archive(), tables.outboxArchive(), "event_id", "published_at < ?", now, dryRun);
      long deadLetters =
          pruneRows(
              policy.resolvedDeadLetters(),
              tables.deadLetters(),
              "id",
              "status IN ('REPLAYED', 'DISCARDED') AND resolved_at < ?",
              now,
              dryRun);
      long auditRows = pruneRows(policy.audit(), tables.audit(), "id", "at < ?", now, dryRun);
      Result result = new Result(ledger, outbox, archived, archive, deadLetters, auditRows, dryRun);
      if (!dryRun) {
        Map<String, Object> target = new LinkedHashMap<>();
        target.put("ledgerHorizon", str(policy.ledger()));
        target.put("publishedHorizon", str(policy.published()));
        target.put("archiveHorizon", str(policy.archive()));
        target.put("archivePublished", policy.archivePublished());
        target.put("deadLetterHorizon", str(policy.resolvedDeadLetters()));
        target.put("auditHorizon", str(policy.audit()));
        target.put("ledgerRows", ledger);
        target.put("outboxRows", outbox);
        target.put("archiveRows", archive);
        target.put("deadLetterRows", deadLetters);
        target.put("auditRows", auditRows);
        String targetJson = JSON.writeValueAsString(target);
        int affected =
            (int) Math.min(Integer.MAX_VALUE, ledger + outbox + archive + deadLetters + auditRows);
        Transactions.inTransaction(dataSource, c -> {
          audit.record(c, clock.instant(), who, "prune", targetJson, affected, null);
          return null;
        });
      }
      return result;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not prune Courier's tables", e);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("could not encode the audit entry of a prune", e);
    }
  }

  private static String str(Duration d) {
    return d == null ? null : d.toString();
  }

  /**
   * Deletes (or, for a dry run, counts) the rows of {@code table} that {@code condition} selects for
   * {@code now - horizon}, in batches chosen by {@code key}; nothing when the horizon is null.
   */
  private long pruneRows(
      Duration horizon, String table, String key, String condition, Instant now, boolean dryRun)
      throws SQLException {
    if (horizon == null) {
      return 0;
    }
    Instant before = now.minus(horizon);
    String where = " WHERE " + condition;
    if (dryRun) {
      return count(table + where, before);
    }
    return deleteInBatches(
        "DELETE FROM " + table + " WHERE " + key + " IN (SELECT " + key + " FROM " + table + where
            + " LIMIT " + BATCH + ")",
        before);
  }

  private long count(String fromWhere, Instant before) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + fromWhere)) {
      ps.setTimestamp(1, Timestamp.from(before));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private long deleteInBatches(String sql, Instant before) throws SQLException {
    long total = 0;
    while (true) {
      int n =
          Transactions.inTransaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              ps.setTimestamp(1, Timestamp.from(before));
              return ps.executeUpdate();
            }
          });
      total += n;
      if (n < BATCH) {
        return total;
      }
    }
  }

  /**
   * The published rows of alias {@code o} older than the horizon (one parameter): marked {@code
   * PUBLISHED} before it, or, in log mode, published by a log relay and created before it.
   */
  private String publishedCondition(int partitions) {
    if (partitions == 0) {
      return "o.status = 'PUBLISHED' AND o.published_at < ?";
    }
    return "COALESCE(o.published_at, o.created_at) < ? AND (o.status = 'PUBLISHED' OR "
        + LogSql.published(tables, partitions, "o")
        + ")";
  }

  private int logPartitions() throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      return LogSql.partitions(c, tables);
    }
  }

  private boolean timePartitioned() throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      return TimePartitions.isPartitioned(c, tables);
    }
  }

  /**
   * Moves published rows of {@code source} (the outbox, or its default time partition) to the
   * archive; returns {removed from the outbox, inserted in the archive}.
   */
  private long[] archiveInBatches(String source, String published, Instant before, Instant now) throws SQLException {
    String sql =
        "WITH moved AS (DELETE FROM " + source + " WHERE seq IN (SELECT o.seq FROM "
            + source + " o WHERE " + published + " ORDER BY o.seq LIMIT "
            + BATCH + ") RETURNING event_id, event_type, destination, event_key, payload, headers,"
            + " correlation_id, causation_id, created_at, COALESCE(published_at, created_at) AS published_at),"
            + " inserted AS (INSERT INTO " + tables.outboxArchive()
            + " (event_id, event_type, destination, event_key, payload, headers, correlation_id,"
            + " causation_id, created_at, published_at, archived_at) SELECT event_id, event_type,"
            + " destination, event_key, payload, headers, correlation_id, causation_id, created_at,"
            + " published_at, ? FROM moved ON CONFLICT (event_id) DO UPDATE SET published_at ="
            + " EXCLUDED.published_at, archived_at = EXCLUDED.archived_at RETURNING 1)"
            + " SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM inserted)";
    long removed = 0;
    long inserted = 0;
    while (true) {
      long[] batch =
          Transactions.inTransaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
              ps.setTimestamp(1, Timestamp.from(before));
              ps.setTimestamp(2, Timestamp.from(now));
              try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new long[] {rs.getLong(1), rs.getLong(2)};
              }
            }
          });
      removed += batch[0];
      inserted += batch[1];
      if (batch[0] < BATCH) {
        return new long[] {removed, inserted};
      }
    }
  }
}
