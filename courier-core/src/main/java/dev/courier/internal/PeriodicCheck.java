package dev.courier.internal;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a check at once and then at a fixed delay, on a scheduler the caller owns or on a daemon
 * thread of its own, until closed. A check that throws is logged and run again at the next
 * interval: a scheduled task that throws would otherwise never run again. Started once, closed
 * idempotently; thread-safe.
 */
public final class PeriodicCheck implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PeriodicCheck.class);

  private final String name;
  private final Duration interval;
  private final Runnable check;
  private final ScheduledExecutorService scheduler;
  private final boolean ownsScheduler;
  private final ReentrantLock lock = new ReentrantLock();
  private ScheduledFuture<?> task;
  private boolean closed;

  /**
   * @param name what is checked, for the thread's name and the log ("horizon", "dead-letter")
   * @param scheduler the caller's scheduler, or {@code null} for a daemon thread of this check's own
   */
  public PeriodicCheck(String name, Duration interval, ScheduledExecutorService scheduler, Runnable check) {
    this.name = name;
    this.interval = interval;
    this.check = check;
    this.ownsScheduler = scheduler == null;
    this.scheduler =
        scheduler != null
            ? scheduler
            : Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("courier-" + name + "-monitor").daemon(true).factory());
  }

  /**
   * Checks at once and then every interval.
   *
   * @throws IllegalStateException if started already or closed
   */
  public void start() {
    lock.lock();
    try {
      if (closed || task != null) {
        throw new IllegalStateException(
            "the " + name + " monitor is " + (closed ? "closed" : "started already"));
      }
      task = scheduler.scheduleWithFixedDelay(this::runQuietly, 0, interval.toNanos(), TimeUnit.NANOSECONDS);
    } finally {
      lock.unlock();
    }
  }

  private void runQuietly() {
    try {
      check.run();
    } catch (RuntimeException e) {
      log.warn("{} check failed: {}", name, e.toString());
    }
  }

  /** Stops the checks (and the thread of its own, if it made one). Idempotent. */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      if (task != null) {
        task.cancel(false);
      }
    } finally {
      lock.unlock();
    }
    if (ownsScheduler) {
      scheduler.shutdownNow();
    }
  }
}
