package dev.courier.outbox;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.admin.Attribution;
import dev.courier.admin.AuditLog;
import dev.courier.admin.InvalidRequestException;
import dev.courier.admin.NotFoundException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.LogSql;
import dev.courier.metrics.CourierMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;

/**
 * Operator-side view of the outbox: its backlog and dead rows, and the gauges that export them;
 * and {@link #retryDead putting dead rows back} for the relay. Queries run in their own short
 * transactions; a retry writes its audit row in the same transaction as its change. Thread-safe.
 */
public final class OutboxAdmin implements MeterBinder {
  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final Duration gaugeCacheTtl;
  private final AtomicReference<OutboxStatus> cached = new AtomicReference<>();
  private final AuditLog audit;
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * An admin whose gauges reuse one query result for up to {@code gaugeCacheTtl} (zero: query on
   * every read).
   *
   * @param clock the clock ages are measured with
   */
  public OutboxAdmin(DataSource dataSource, CourierTables tables, Clock clock, Duration gaugeCacheTtl) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
    this.clock = Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(gaugeCacheTtl, "gaugeCacheTtl");
    if (gaugeCacheTtl.isNegative()) {
      throw new ConfigurationException("gaugeCacheTtl", "must not be negative, was " + gaugeCacheTtl);
    }
    this.gaugeCacheTtl = gaugeCacheTtl;
    this.audit = new AuditLog(tables);
  }

  /** An admin whose gauges query the database at most once per five seconds. */
  public OutboxAdmin(DataSource dataSource, CourierTables tables, Clock clock) {
    this(dataSource, tables, clock, Duration.ofSeconds(5));
  }

  public OutboxAdmin(DataSource dataSource, CourierTables tables) {
    this(dataSource, tables, Clock.systemUTC());
  }

  /** The tables this admin reads. */
  public CourierTables tables() {
    return tables;
  }

  /**
   * Counts pending and dead rows, overall and per destination, and finds the oldest pending one.
   *
   * @throws CourierException if the outbox cannot be read
   */
  public OutboxStatus status() {
    String sql =
        "SELECT destination,"
            + " SUM(CASE WHEN status = 'PENDING' THEN 1 ELSE 0 END) AS pending,"
            + " SUM(CASE WHEN status = 'DEAD' THEN 1 ELSE 0 END) AS dead,"
            + " MIN(CASE WHEN status = 'PENDING' THEN created_at END) AS oldest"
            + " FROM "
            + tables.outbox()
            + " WHERE status IN ('PENDING', 'DEAD') GROUP BY destination ORDER BY destination";
    Instant now = clock.instant();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      List<OutboxStatus.Destination> per = new ArrayList<>();
      long pending = 0;
      long dead = 0;
      Instant oldest = null;
      while (rs.next()) {
        Timestamp ts = rs.getTimestamp("oldest");
        Instant o = ts == null ? null : ts.toInstant();
        var d = new OutboxStatus.Destination(rs.getString("destination"), rs.getLong("pending"), rs.getLong("dead"), o);
        per.add(d);
        pending += d.pending();
        dead += d.dead();
        if (o != null && (oldest == null || o.isBefore(oldest))) {
          oldest = o;
        }
      }
      int partitions = LogSql.partitions(c, tables);
      if (partitions > 0) {
        // log mode: what waits is told by the partitions' cursors, not by a status
        Map<String, OutboxStatus.Destination> byName = new TreeMap<>();
        per.forEach(d -> byName.put(d.destination(), d));
        try (PreparedStatement lp = c.prepareStatement(LogSql.unpublished(tables, partitions));
            ResultSet lr = lp.executeQuery()) {
          while (lr.next()) {
            Timestamp ts = lr.getTimestamp(3);
            Instant o = ts == null ? null : ts.toInstant();
            long waiting = lr.getLong(2);
            OutboxStatus.Destination before = byName.get(lr.getString(1));
            Instant first = before == null || before.oldestPendingCreatedAt() == null
                ? o
                : o == null || before.oldestPendingCreatedAt().isBefore(o) ? before.oldestPendingCreatedAt() : o;
            byName.put(
                lr.getString(1),
                new OutboxStatus.Destination(
                    lr.getString(1),
                    (before == null ? 0 : before.pending()) + waiting,
                    before == null ? 0 : before.dead(),
                    first));
            pending += waiting;
            if (o != null && (oldest == null || o.isBefore(oldest))) {
              oldest = o;
            }
          }
        }
        per = new ArrayList<>(byName.values());
      }
      OutboxStatus s = new OutboxStatus(pending, dead, oldest, now, per);
      cached.set(s);
      return s;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read outbox status from " + tables.outbox(), e);
    }
  }

  /**
   * The dead rows, oldest first.
   *
   * @param destination only this destination's, or {@code null} for all
   * @param limit at most this many
   */
  public List<DeadOutboxRow> dead(String destination, int limit) {
    if (limit < 1 || limit > 10_000) {
      throw new InvalidRequestException("limit", "must be between 1 and 10000, was " + limit);
    }
    String sql =
        "SELECT seq, event_id, event_type, destination, event_key, attempts, last_error, created_at,"
            + " dead_at FROM "
            + tables.outbox()
            + " WHERE status = 'DEAD'"
            + (destination != null ? " AND destination = ?" : "")
            + " ORDER BY seq LIMIT ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      if (destination != null) {
        ps.setString(i++, destination);
      }
      ps.setInt(i, limit);
      List<DeadOutboxRow> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Timestamp dead = rs.getTimestamp("dead_at");
          out.add(
              new DeadOutboxRow(
                  rs.getLong("seq"),
                  rs.getObject("event_id", java.util.UUID.class),
                  rs.getString("event_type"),
                  rs.getString("destination"),
                  rs.getString("event_key"),
                  rs.getInt("attempts"),
                  rs.getString("last_error"),
                  rs.getTimestamp("created_at").toInstant(),
                  dead == null ? null : dead.toInstant()));
        }
      }
      return out;
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not list dead rows of " + tables.outbox(), e);
    }
  }

  /**
   * Puts dead rows back to pending, with their attempts reset, for the relay to publish again.
   * Rows that are not dead are left alone.
   *
   * @return how many rows were put back
   * @throws NotFoundException if the selection names a row that does not exist; nothing is changed
   * @throws CourierException if the database fails; nothing is changed
   */
  public int retryDead(OutboxSelection selection, Attribution who) {
    Objects.requireNonNull(selection, "selection");
    Objects.requireNonNull(who, "who");
    try {
      return Transactions.inTransaction(dataSource, c -> {
        if (!selection.seqs().isEmpty()) {
          java.util.TreeSet<Long> missing = new java.util.TreeSet<>(selection.seqs());
          try (PreparedStatement ps =
              c.prepareStatement("SELECT seq FROM " + tables.outbox() + " WHERE seq = ANY(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", selection.seqs().toArray(Long[]::new)));
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                missing.remove(rs.getLong(1));
              }
            }
          }
          if (!missing.isEmpty()) {
            throw new NotFoundException("outbox row", List.copyOf(missing));
          }
        }
        Instant now = clock.instant();
        int partitions = LogSql.partitions(c, tables);
        if (partitions > 0) {
          int n = replayLogRows(c, selection, partitions);
          audit.record(c, now, who, "outbox.retry", json(selection.describe()), n, null);
          return n;
        }
        String sql =
            "UPDATE "
                + tables.outbox()
                + " SET status = 'PENDING', attempts = 0, available_at = ?, claimed_by = NULL,"
                + " dead_at = NULL WHERE status = 'DEAD'"
                + (!selection.seqs().isEmpty() ? " AND seq = ANY(?)" : "")
                + (selection.destination() != null ? " AND destination = ?" : "");
        int n;
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setTimestamp(1, Timestamp.from(now));
          if (!selection.seqs().isEmpty()) {
            ps.setArray(2, c.createArrayOf("bigint", selection.seqs().toArray(Long[]::new)));
          } else if (selection.destination() != null) {
            ps.setString(2, selection.destination());
          }
          n = ps.executeUpdate();
        }
        audit.record(c, now, who, "outbox.retry", json(selection.describe()), n, null);
        return n;
      });
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not retry dead rows of " + tables.outbox(), e);
    }
  }

  /**
   * Log mode: the selected dead rows go back into the log under this transaction's id, with the
   * rows of their keys parked behind them, in their order (see {@link LogSql#replayDead}).
   */
  private int replayLogRows(Connection c, OutboxSelection selection, int partitions) throws SQLException {
    String filter =
        (!selection.seqs().isEmpty() ? " AND d.seq = ANY(?)" : "")
            + (selection.destination() != null ? " AND d.destination = ?" : "");
    try (PreparedStatement ps = c.prepareStatement(LogSql.replayDead(tables, partitions, filter))) {
      int i = 1;
      if (!selection.seqs().isEmpty()) {
        ps.setArray(i++, c.createArrayOf("bigint", selection.seqs().toArray(Long[]::new)));
      }
      if (selection.destination() != null) {
        ps.setString(i, selection.destination());
      }
      return ps.executeUpdate();
    }
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("could not encode the selection", e);
    }
  }

  /**
   * Registers the backlog gauges ({@value CourierMetrics#OUTBOX_BACKLOG}, {@value
   * CourierMetrics#OUTBOX_OLDEST_AGE}, {@value CourierMetrics#OUTBOX_DEAD}). They query the
   * database at most once per cache period (five seconds by default) however often they are
   * scraped; a failed query leaves the last value in place (NaN before the first success).
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder(CourierMetrics.OUTBOX_BACKLOG, this, a -> a.gauge(OutboxStatus::pending))
        .description("Outbox rows waiting to be published")
        .baseUnit("events")
        .register(registry);
    Gauge.builder(CourierMetrics.OUTBOX_OLDEST_AGE, this, a -> a.gauge(st -> st.oldestPendingAge().toMillis() / 1000.0))
        .description("Age of the oldest outbox row waiting to be published")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder(CourierMetrics.OUTBOX_DEAD, this, a -> a.gauge(OutboxStatus::dead))
        .description("Outbox rows parked as dead")
        .baseUnit("events")
        .register(registry);
  }

  private double gauge(java.util.function.ToDoubleFunction<OutboxStatus> f) {
    OutboxStatus s = fresh();
    return s == null ? Double.NaN : f.applyAsDouble(s);
  }

  private OutboxStatus fresh() {
    OutboxStatus s = cached.get();
    if (s == null || Duration.between(s.takenAt(), clock.instant()).compareTo(gaugeCacheTtl) > 0) {
      try {
        return status();
      } catch (CourierException e) {
        return s; // the last value, or null (reported as NaN) when there never was one
      }
    }
    return s;
  }
}
