package dev.courier.outbox;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.jdbc.CourierTables;
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
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;

/**
 * Operator-side view of the outbox: its backlog and dead rows, and the gauges that export them.
 * Read-only queries run in their own short transactions. Thread-safe.
 */
public final class OutboxAdmin implements MeterBinder {
  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final Duration gaugeCacheTtl;
  private final AtomicReference<OutboxStatus> cached = new AtomicReference<>();

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
      OutboxStatus s = new OutboxStatus(pending, dead, oldest, now, per);
      cached.set(s);
      return s;
    } catch (SQLException e) {
      throw new CourierException("could not read outbox status from " + tables.outbox() + ": " + e.getMessage(), e);
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
