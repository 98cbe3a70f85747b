package dev.courier.server;

import dev.courier.CourierException;
import dev.courier.admin.Attribution;
import dev.courier.admin.Retention;
import dev.courier.jdbc.CourierTables;
import dev.courier.server.config.RetentionSettings;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prunes on a schedule ({@code courier.retention.interval}) inside a long-running command, as
 * operator {@code schedule}. A failed run is logged and retried at the next interval.
 */
final class RetentionSchedule implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RetentionSchedule.class);
  private final ScheduledExecutorService executor;

  private RetentionSchedule(ScheduledExecutorService executor) {
    this.executor = executor;
  }

  /** Starts pruning every interval, or returns a no-op when no interval is configured. */
  static RetentionSchedule start(DataSource ds, CourierTables tables, RetentionSettings settings, Clock clock) {
    if (settings.interval().isEmpty()) {
      return new RetentionSchedule(null);
    }
    Duration every = settings.interval().get();
    Retention retention = new Retention(ds, tables, clock);
    Retention.Policy policy = settings.policy();
    ScheduledExecutorService ex =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("courier-retention").daemon(true).unstarted(r));
    ex.scheduleWithFixedDelay(
        () -> {
          try {
            Retention.Result r = retention.prune(policy, false, Attribution.of("schedule"));
            log.info(
                "pruned {} ledger row(s), {} published outbox row(s), {} archived event(s)",
                r.ledgerRows(), r.outboxRows(), r.archiveRows());
          } catch (CourierException e) {
            log.warn("scheduled prune failed, next try in {}: {}", every, e.getMessage());
          }
        },
        every.toMillis(),
        every.toMillis(),
        TimeUnit.MILLISECONDS);
    return new RetentionSchedule(ex);
  }

  @Override
  public void close() {
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
