package dev.courier.relay;

import dev.courier.internal.PeriodicCheck;

import dev.courier.ConfigurationException;
import dev.courier.metrics.CourierMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToDoubleFunction;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures how far PostgreSQL's transaction horizon lags and names the transaction that holds it
 * back, so that the cost of a long transaction is visible before it is felt.
 *
 * <p>The horizon is {@code pg_snapshot_xmin(pg_current_snapshot())}. A relay that reads the outbox
 * below it publishes only rows of transactions that have all ended; one transaction that holds an
 * id and stays open (a long batch write, a session left {@code idle in transaction}, a forgotten
 * prepared transaction) keeps the horizon where it is and delays publishing for every writer. The
 * horizon is cluster-wide: a transaction in any database of the cluster holds it. It is also the
 * point below which the relay's claims find no dead row versions that vacuum could not yet remove.
 *
 * <p>Each {@link #check()} runs one query on the data source: the horizon and the next transaction
 * id from {@code pg_current_snapshot()}, and the holder, found by its transaction id in {@code
 * pg_stat_activity} ({@code backend_xid}) or {@code pg_prepared_xacts}. It reads the holder's
 * process id, application name, database, role, state and transaction start, or a prepared
 * transaction's global id, prepare time, owner and database; never query text.
 *
 * <p><b>What the monitoring role sees.</b> Any role sees the horizon and the next transaction id,
 * every prepared transaction, and of every session its process id, application name, database,
 * role and transaction id. Of other roles' sessions it sees the state and the transaction start
 * only with the privileges of {@code pg_read_all_stats} (or {@code pg_monitor}, or as a superuser).
 * Without them the holder is still named, but its age is measured from when this monitor first saw
 * the horizon at that transaction id: a lower bound that starts at zero when the monitor starts.
 * Grant {@code pg_read_all_stats} to the role Courier connects as to see the full age.
 *
 * <p>Gauges ({@link #bindTo}): {@value CourierMetrics#OUTBOX_HORIZON_LAG} (seconds) and {@value
 * CourierMetrics#OUTBOX_HORIZON_XID_DISTANCE} (transactions), read from the latest check; NaN
 * before the first and after a failed one. {@link #start()} checks at once and then every check
 * interval, on the given scheduler or a daemon thread of its own.
 *
 * <p>A failed check (database unreachable) is recorded in the status and logged once; the monitor
 * tries again at the next interval. Thread-safe.
 */
public final class HorizonMonitor implements MeterBinder, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HorizonMonitor.class);

  /**
   * One query, one snapshot. Transaction ids compare as 64-bit values ({@code xid8}) for the
   * snapshot and as 32-bit ones ({@code xid}) in the views, so the horizon is cut to its low 32
   * bits to find its holder. The holder is looked up even when the horizon equals the snapshot's
   * xmax: PostgreSQL computes xmax as the latest ended id plus one, so a transaction holding the
   * newest id while nothing after it has ended shows as {@code xmin = xmax = its id}. A parallel
   * worker shares its leader's id: the leader is preferred.
   */
  static final String QUERY =
      """
      WITH snap AS (SELECT pg_current_snapshot() AS s),
      h AS (
        SELECT pg_snapshot_xmin(s)::text::bigint AS horizon,
               pg_snapshot_xmax(s)::text::bigint AS next_xid
        FROM snap
      )
      SELECT h.horizon, h.next_xid, holder.*
      FROM h
      LEFT JOIN LATERAL (
        SELECT false AS prepared, a.pid, a.application_name, a.datname::text AS database,
               a.usename::text AS owner, a.state, a.backend_type, a.xact_start AS since,
               NULL::text AS gid, a.leader_pid IS NOT NULL AS worker
        FROM pg_stat_activity a
        WHERE a.backend_xid::text::bigint = h.horizon % 4294967296
        UNION ALL
        SELECT true, NULL, NULL, p.database::text, p.owner::text, NULL, NULL, p.prepared,
               p.gid, false
        FROM pg_prepared_xacts p
        WHERE p.transaction::text::bigint = h.horizon % 4294967296
        ORDER BY worker
        LIMIT 1
      ) holder ON true
      """;

  private final DataSource dataSource;
  private final Duration checkInterval;
  private final Clock clock;
  private final PeriodicCheck periodic;

  private final ReentrantLock lock = new ReentrantLock();
  private volatile Status last;
  private long seenHorizon = -1;
  private Instant seenSince;

  /**
   * The result of one check.
   *
   * @param checkedAt when the check ran, by the monitor's clock
   * @param lag the horizon's lag and holder, or {@code null} if the check failed
   * @param failure why the check failed, or {@code null} if it succeeded
   */
  public record Status(Instant checkedAt, HorizonLag lag, String failure) {
    public Status {
      Objects.requireNonNull(checkedAt, "checkedAt");
      if ((lag == null) == (failure == null)) {
        throw new IllegalArgumentException("a status has either a lag or a failure");
      }
    }
  }

  private HorizonMonitor(Builder b) {
    this.dataSource = b.dataSource;
    this.checkInterval = b.checkInterval;
    this.clock = b.clock;
    this.periodic = new PeriodicCheck("horizon", b.checkInterval, b.scheduler, this::check);
  }

  /** Starts building a monitor that reads the horizon of the cluster {@code dataSource} is in. */
  public static Builder builder(DataSource dataSource) {
    return new Builder(dataSource);
  }

  public Duration checkInterval() {
    return checkInterval;
  }

  /** Checks at once and then every check interval, until {@link #close()}. */
  public void start() {
    periodic.start();
  }

  /** The result of the latest check, if there was one. */
  public Optional<Status> lastStatus() {
    return Optional.ofNullable(last);
  }

  /**
   * Reads the horizon now, in one query. The scheduled checks call this; tests and tools may call
   * it directly.
   *
   * @return the new status (also in {@link #lastStatus()}); a failure to read is in its {@code
   *     failure}, not thrown
   */
  public Status check() {
    lock.lock();
    try {
      Instant now = clock.instant();
      Status s;
      try {
        s = new Status(now, read(now), null);
      } catch (SQLException e) {
        String why = "cannot read the transaction horizon: " + e.getMessage();
        Status previous = last;
        if (previous == null || previous.failure() == null) {
          log.warn("{}; trying again every {}", why, checkInterval);
        }
        s = new Status(now, null, why);
      }
      last = s;
      return s;
    } finally {
      lock.unlock();
    }
  }

  private HorizonLag read(Instant now) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(QUERY)) {
      HorizonLag lag;
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        long horizon = rs.getLong("horizon");
        long nextXid = rs.getLong("next_xid");
        HorizonHolder holder = holder(rs);
        if (horizon != seenHorizon) {
          seenHorizon = horizon;
          seenSince = now;
        }
        Instant since = null;
        if (holder != null || horizon < nextXid) {
          since = holder != null && holder.since() != null ? holder.since() : seenSince;
        }
        lag = new HorizonLag(horizon, nextXid, holder, since, now);
      }
      if (!c.getAutoCommit()) {
        c.rollback(); // read only; leave no transaction open on a pooled connection
      }
      return lag;
    }
  }

  private static HorizonHolder holder(ResultSet rs) throws SQLException {
    Object prepared = rs.getObject("prepared");
    if (prepared == null) {
      return null;
    }
    Instant since = instant(rs.getObject("since", OffsetDateTime.class));
    if ((Boolean) prepared) {
      return new HorizonHolder.PreparedTransaction(
          rs.getString("gid"), since, rs.getString("owner"), rs.getString("database"));
    }
    return new HorizonHolder.Backend(
        rs.getInt("pid"),
        rs.getString("application_name"),
        rs.getString("database"),
        rs.getString("owner"),
        rs.getString("state"),
        rs.getString("backend_type"),
        since);
  }

  private static Instant instant(OffsetDateTime t) {
    return t == null ? null : t.toInstant();
  }

  /**
   * Registers {@value CourierMetrics#OUTBOX_HORIZON_LAG} and {@value
   * CourierMetrics#OUTBOX_HORIZON_XID_DISTANCE}. They read the latest check and query nothing
   * themselves.
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder(CourierMetrics.OUTBOX_HORIZON_LAG, this, m -> m.gauge(l -> l.age().toMillis() / 1000.0))
        .description(
            "How long the oldest running transaction of the PostgreSQL cluster has held the"
                + " transaction horizon back")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder(CourierMetrics.OUTBOX_HORIZON_XID_DISTANCE, this, m -> m.gauge(HorizonLag::xidDistance))
        .description("Transaction ids assigned since the one that holds the horizon back")
        .baseUnit("transactions")
        .register(registry);
  }

  private double gauge(ToDoubleFunction<HorizonLag> f) {
    Status s = last;
    return s == null || s.lag() == null ? Double.NaN : f.applyAsDouble(s.lag());
  }

  /** Stops the scheduled checks (and the monitor's own thread, if it made one). Idempotent. */
  @Override
  public void close() {
    periodic.close();
  }

  /** Builds a {@link HorizonMonitor}; settings are checked at {@link #build()}. */
  public static final class Builder {
    private final DataSource dataSource;
    private Duration checkInterval = Duration.ofSeconds(15);
    private Clock clock = Clock.systemUTC();
    private ScheduledExecutorService scheduler;

    private Builder(DataSource dataSource) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    }

    /** How often {@link #start()} checks (default 15 s). */
    public Builder checkInterval(Duration checkInterval) {
      this.checkInterval = checkInterval;
      return this;
    }

    /** The clock ages are measured with (default UTC system clock). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Runs the checks on this scheduler, which the caller owns and shuts down (default: a daemon
     * thread of the monitor's own, stopped by {@link #close()}).
     */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    public HorizonMonitor build() {
      if (checkInterval == null || checkInterval.isZero() || checkInterval.isNegative()) {
        throw new ConfigurationException(
            "checkInterval", "must be a positive duration, was " + checkInterval);
      }
      return new HorizonMonitor(this);
    }
  }
}
