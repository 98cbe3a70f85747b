package dev.courier.deadletter;

import dev.courier.internal.PeriodicCheck;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.deadletter.DeadLetterGrowth.Queue;
import dev.courier.outbox.OutboxAdmin;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches how fast dead letters pile up and tells an {@link AlertListener} when a queue grows by
 * more than a threshold within a sliding window.
 *
 * <p>Every check interval the monitor counts the parked dead letters of each consumer ({@link
 * DeadLetterAdmin}) and, if given an {@link OutboxAdmin}, the outbox rows the relay parked as dead.
 * It compares each count with the count at the start of the window (or with its first count, while
 * it has not run for a whole window): dead letters that were already there when the monitor started
 * are not growth, and dead letters an operator replays or discards make the growth smaller.
 *
 * <p>The listener hears of a queue when its growth first goes above the threshold, again at most
 * once per window while it keeps growing, and once more when it is back at or below the threshold.
 * {@link #lastStatus()} holds the latest result for health checks.
 *
 * <p>A failed count (database unreachable) is recorded in the status and logged once; the monitor
 * keeps its history and tries again at the next interval. Thread-safe.
 */
public final class DeadLetterMonitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeadLetterMonitor.class);

  private final DeadLetterAdmin deadLetters;
  private final OutboxAdmin outbox;
  private final long threshold;
  private final Duration window;
  private final Duration checkInterval;
  private final AlertListener listener;
  private final Clock clock;
  private final PeriodicCheck periodic;

  private final ReentrantLock lock = new ReentrantLock();
  private final Deque<Sample> samples = new ArrayDeque<>();
  private final Map<Key, Notified> alerting = new HashMap<>();
  private volatile Status last;

  /**
   * The result of one check.
   *
   * @param checkedAt when the counts were taken (or attempted)
   * @param queues the growth of every queue the monitor knows, consumers by name, then the outbox;
   *     after a failed count, the growth of the last successful one
   * @param failure why the last count failed, or {@code null} if it succeeded
   */
  public record Status(Instant checkedAt, List<DeadLetterGrowth> queues, String failure) {
    public Status {
      queues = List.copyOf(queues);
    }

    /** The queues growing faster than the threshold. */
    public List<DeadLetterGrowth> exceeding() {
      return queues.stream().filter(DeadLetterGrowth::exceedsThreshold).toList();
    }

    /** Whether the count succeeded and no queue grows faster than the threshold. */
    public boolean healthy() {
      return failure == null && exceeding().isEmpty();
    }
  }

  private record Key(Queue queue, String name) {}

  private record Sample(Instant at, Map<Key, Long> counts) {}

  private record Notified(Instant at, long count) {}

  private DeadLetterMonitor(Builder b) {
    this.deadLetters = b.deadLetters;
    this.outbox = b.outbox;
    this.threshold = b.threshold;
    this.window = b.window;
    this.checkInterval = b.checkInterval;
    this.listener = b.listener;
    this.clock = b.clock;
    this.periodic = new PeriodicCheck("dead-letter", b.checkInterval, b.scheduler, this::check);
  }

  /**
   * Starts building a monitor of the consumers' dead letters that {@code deadLetters} counts.
   */
  public static Builder builder(DeadLetterAdmin deadLetters) {
    return new Builder(deadLetters);
  }

  public long threshold() {
    return threshold;
  }

  public Duration window() {
    return window;
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
   * Counts now, updates the window and tells the listener what changed. The scheduled checks call
   * this; tests and tools may call it directly.
   *
   * @return the new status (also in {@link #lastStatus()})
   */
  public Status check() {
    lock.lock();
    try {
      Instant now = clock.instant();
      Map<Key, Long> counts = new HashMap<>();
      try {
        deadLetters.counts().byConsumer().forEach((c, n) -> counts.put(new Key(Queue.CONSUMER, c), n));
        if (outbox != null) {
          counts.put(new Key(Queue.OUTBOX, outbox.tables().outbox()), outbox.status().dead());
        }
      } catch (CourierException e) {
        Status previous = last;
        if (previous == null || previous.failure() == null) {
          log.warn("cannot count dead letters, trying again every {}: {}", checkInterval, e.getMessage());
        }
        Status s = new Status(now, previous == null ? List.of() : previous.queues(), e.getMessage());
        last = s;
        return s;
      }
      samples.addLast(new Sample(now, counts));
      dropOutsideWindow(now.minus(window));
      Sample base = samples.getFirst();
      TreeSet<Key> keys = new TreeSet<>(Comparator.comparing(Key::queue).thenComparing(Key::name));
      keys.addAll(base.counts().keySet());
      keys.addAll(counts.keySet());
      List<DeadLetterGrowth> growth = new ArrayList<>(keys.size());
      for (Key k : keys) {
        DeadLetterGrowth g =
            new DeadLetterGrowth(
                k.queue(),
                k.name(),
                base.counts().getOrDefault(k, 0L),
                counts.getOrDefault(k, 0L),
                base.at(),
                now,
                threshold);
        growth.add(g);
        notifyListener(k, g, now);
      }
      Status s = new Status(now, growth, null);
      last = s;
      return s;
    } finally {
      lock.unlock();
    }
  }

  /** Keeps one sample at or before the window's start, as the baseline, and every later one. */
  private void dropOutsideWindow(Instant windowStart) {
    while (samples.size() >= 2) {
      Iterator<Sample> it = samples.iterator();
      it.next();
      if (it.next().at().isAfter(windowStart)) {
        return;
      }
      samples.removeFirst();
    }
  }

  private void notifyListener(Key k, DeadLetterGrowth g, Instant now) {
    Notified n = alerting.get(k);
    try {
      if (g.exceedsThreshold()) {
        if (n == null || (g.now() > n.count() && !now.isBefore(n.at().plus(window)))) {
          alerting.put(k, new Notified(now, g.now()));
          listener.onDeadLetterGrowth(g);
        }
      } else if (n != null) {
        alerting.remove(k);
        listener.onDeadLetterGrowthResolved(g);
      }
    } catch (RuntimeException e) {
      log.warn("alert listener {} failed: {}", listener.getClass().getName(), e.toString());
    }
  }

  /** Stops the scheduled checks (and the monitor's own thread, if it made one). Idempotent. */
  @Override
  public void close() {
    periodic.close();
  }

  /** Builds a {@link DeadLetterMonitor}; settings are checked at {@link #build()}. */
  public static final class Builder {
    private final DeadLetterAdmin deadLetters;
    private OutboxAdmin outbox;
    private long threshold = 10;
    private Duration window = Duration.ofMinutes(5);
    private Duration checkInterval = Duration.ofSeconds(15);
    private AlertListener listener = AlertListener.logging();
    private Clock clock = Clock.systemUTC();
    private ScheduledExecutorService scheduler;

    private Builder(DeadLetterAdmin deadLetters) {
      this.deadLetters = deadLetters;
    }

    /** Also watch the outbox rows the relay parks as dead (default: consumers only). */
    public Builder outbox(OutboxAdmin outbox) {
      this.outbox = Objects.requireNonNull(outbox, "outbox");
      return this;
    }

    /** Growth within the window that is tolerated; one more raises the alert (default 10). */
    public Builder threshold(long threshold) {
      this.threshold = threshold;
      return this;
    }

    /** The sliding window growth is measured over (default 5 minutes). */
    public Builder window(Duration window) {
      this.window = window;
      return this;
    }

    /** How often to count (default 15 s). */
    public Builder checkInterval(Duration checkInterval) {
      this.checkInterval = checkInterval;
      return this;
    }

    /** Who to tell (default {@link AlertListener#logging()}). */
    public Builder listener(AlertListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

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

    public DeadLetterMonitor build() {
      Objects.requireNonNull(deadLetters, "deadLetters");
      if (threshold < 0) {
        throw new ConfigurationException("threshold", "must be 0 or more, was " + threshold);
      }
      requirePositive("window", window);
      requirePositive("checkInterval", checkInterval);
      if (window.compareTo(checkInterval) < 0) {
        throw new ConfigurationException(
            "window",
            "must be at least checkInterval (" + checkInterval + "), was " + window
                + "; a window shorter than the interval never holds two counts");
      }
      return new DeadLetterMonitor(this);
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new ConfigurationException(name, "must be a positive duration, was " + d);
      }
    }
  }
}
