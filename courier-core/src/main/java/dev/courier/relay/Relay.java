package dev.courier.relay;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.EventLog;
import dev.courier.internal.Threads;
import dev.courier.jdbc.CourierTables;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes committed outbox rows through a {@link Transport} and records the broker's answer.
 *
 * <p><b>Delivery.</b> At least once. A row is marked published only after the transport reports
 * the broker's confirmation. A failed or unconfirmed publish is retried after an exponential
 * backoff with full jitter ({@link RetryPolicy}); after the policy's last attempt, or at once for a
 * failure the transport calls non-retriable, the row is parked as {@code DEAD} with its last
 * error, where it stays visible until an operator retries or discards it. Nothing is dropped. If
 * the relay dies between the broker's confirmation and the mark, the row's lease expires and the
 * row is published again: consumers deduplicate by event id.
 *
 * <p><b>Late commits.</b> Rows are claimed by status and lease, never by a remembered position, so
 * a transaction that commits after rows with higher sequence numbers were published is still
 * picked up. While the background loop drains full batches, its claims start at the previous
 * batch's first row (a hint that skips the index entries published rows leave behind, not a
 * watermark): a row below it is picked up by the next claim that scans from the start, at most a
 * second later or after the first batch that is not full, and until then it holds back the later
 * events of its key, so the order of each key is kept. {@link #runOnce()} always scans from the
 * start.
 *
 * <p><b>Several relays.</b> Any number of relays may run on one outbox: each claims disjoint rows
 * ({@code FOR UPDATE SKIP LOCKED}) under a lease. A relay that stops renewing (killed, paused) loses
 * its rows when the lease expires and another relay publishes them again.
 *
 * <p><b>Ordering.</b> With one relay, events with the same destination and key are published in
 * the order their transactions committed, and an event waiting for a retry holds back later events
 * of its key only. Exceptions: an event parked as dead no longer holds its key back; within one
 * batch, if an earlier event of a key fails while a later one is confirmed, the later one is
 * ahead. With several relays, per-key order is not promised, except in {@link ClaimMode#LOG}, which
 * keeps it with any number of relays.
 *
 * <p><b>Throughput.</b> The background loop overlaps its work: while a batch waits for the
 * broker's confirmations, the next batch is claimed and sent, and a batch's rows are marked
 * published while the next one is in flight. Up to {@link Builder#batchesInFlight(int)} batches
 * are published at once. Each batch is still awaited before its rows are marked, and the per-key
 * rule above keeps a later event of a key out of every batch while an earlier one of the key is in
 * flight, so overlapping changes neither the delivery nor the ordering promise.
 *
 * <p><b>Latency.</b> The relay polls adaptively: right after a full batch it polls again at once,
 * and when idle its interval doubles from {@code minPollInterval} up to {@code maxPollInterval}.
 * {@link #wakeup()} (wired to {@link dev.courier.outbox.Outbox.Builder#onAppend(Runnable)} in the
 * same JVM, or to PostgreSQL notifications across processes) starts a pass at once. A hint usually
 * arrives before the writer's transaction commits (the append hook runs inside it), so a pass that
 * was woken and found nothing is repeated after 1 ms, then 2, 4, 8 ms and so on, which picks up a
 * commit that follows its append within milliseconds without a {@code NOTIFY} in the writer's
 * transaction. An application that wants the lowest latency calls {@link #wakeup()} itself right
 * after its commit.
 *
 * <p><b>Liveness.</b> Two gauges tell a monitor whether the relay works: {@value
 * CourierMetrics#RELAY_RUNNING} is 1 while the loop runs, and {@value CourierMetrics#RELAY_LAST_PASS}
 * holds the time of the last pass that completed (found work or not). A relay whose passes keep
 * failing, for example because the database is unreachable, is running but its last pass grows
 * old. Both are tagged with the relay id and the transport.
 *
 * <p><b>Threads and time.</b> The relay runs its loop on one thread and publishes on up to {@code
 * batchesInFlight} more, all made by {@link Builder#threadFactory(ThreadFactory)} when it starts and
 * ended by {@link #close()}. Leases, backoffs and the time of the last pass are read from {@link
 * Builder#clock(Clock)}; waits and timeouts are measured with {@link System#nanoTime()}.
 *
 * <p>Thread-safe. The relay does not close the transport or the data source: their owner does.
 */
public final class Relay implements AutoCloseable {
  /** Rows per batch in {@link ClaimMode#LEASE} and {@link ClaimMode#LOCK} unless set. */
  public static final int DEFAULT_BATCH_SIZE = 256;

  /** Rows per batch in {@link ClaimMode#LOG} unless set. */
  public static final int DEFAULT_LOG_BATCH_SIZE = 1_000;

  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  /**
   * While the loop drains full batches, each claim starts at the previous batch's first row
   * instead of walking the index entries that published rows leave until vacuum; at least this
   * often, and after any claim that was not full, a claim scans from the start again, which is
   * when a row below the hint (a late commit, a retry whose backoff ended) is picked up. Until
   * then such a row holds back the later rows of its key.
   */
  private static final Duration FULL_SCAN_INTERVAL = Duration.ofSeconds(1);

  /** The first wait after a wake-up whose pass found nothing; doubles on each empty pass. */
  private static final Duration WAKE_RECHECK = Duration.ofMillis(1);

  /**
   * How a relay holds the rows of a batch while it publishes them.
   *
   * <ul>
   *   <li>{@link #LEASE} (the default): the claim writes a lease into each row ({@code
   *       available_at}, {@code claimed_by}) and commits; the mark is a second transaction. A
   *       relay that stops renewing loses its rows when the lease expires. Holds no database
   *       connection while the broker answers.
   *   <li>{@link #LOCK}: the claim only locks the rows, in a transaction that stays open while the
   *       batch is published and commits with the mark, so each event costs one row write
   *       instead of two. A relay that dies releases its rows at once (its transaction rolls
   *       back); one that hangs holds them until the database ends its idle transaction after
   *       the {@linkplain Builder#lease(Duration) lease} (PostgreSQL's {@code
   *       idle_in_transaction_session_timeout}, set for that transaction only). Each batch in
   *       flight keeps a connection checked out, with a transaction open for up to the publish
   *       timeout.
   *   <li>{@link #LOG} (PostgreSQL 13+, on an outbox turned to log mode with {@code courier
   *       migrate --log-mode} or {@link dev.courier.jdbc.Schema#enableLogMode}): the outbox is an
   *       append-only log, split into partitions by key, each read through a cursor of two
   *       snapshots; no row is written on the success path, only one cursor write per confirmed
   *       batch. Relays divide the partitions among themselves and fence every cursor write by an
   *       epoch, so per-key order holds with any number of relays. A row that keeps failing is
   *       parked as dead together with its key's later rows, which wait, in order, for the
   *       operator's replay. See docs/GUARANTEES.md ("Log mode").
   * </ul>
   *
   * All keep the same delivery promise; LEASE and LOCK keep per-key order with one relay, LOG with
   * any number.
   */
  public enum ClaimMode {
    LEASE,
    LOCK,
    LOG
  }

  /** Lifecycle of a relay. */
  public enum State {
    NEW,
    RUNNING,
    STOPPING,
    STOPPED
  }

  private final String relayId;
  private final Transport transport;
  private final OutboxStore store;
  private final RetryPolicy retryPolicy;
  private final int batchSize;
  private final ClaimMode claimMode;
  private final boolean deletePublished;
  private final Duration lease;
  private final Duration publishTimeout;
  private final Duration minPoll;
  private final Duration maxPoll;
  private final Duration wakeRecheck;
  private final int batchesInFlight;
  private final Duration heartbeatInterval;
  private final Duration stallLimit;
  private final java.util.Set<String> destinations;
  private final DataSource dataSource;
  private final CourierTables tables;
  private LogRelay logRelay;
  // a LEASE or LOCK relay: whether the outbox was found not to be in log mode
  private volatile boolean outboxModeChecked;
  private final Semaphore inFlight;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final MeterRegistry registry;
  private final Timer publishLatency;
  private final Timer relayLag;
  private final Map<String, Counter> counters = new java.util.concurrent.ConcurrentHashMap<>();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final ReentrantLock passLock = new ReentrantLock();
  private boolean wakeRequested;
  private volatile State state = State.NEW;
  private volatile Instant lastCompletedPass;
  private Thread loop;
  private ExecutorService publishers;
  /** Log mode: reads the next page while the loop's thread does the rest of its pass. */
  private ExecutorService reader;

  private Relay(Builder b) {
    this.relayId = b.relayId;
    this.transport = b.transport;
    this.store = new OutboxStore(b.dataSource, b.tables, b.deletePublished);
    this.retryPolicy = b.retryPolicy;
    this.batchSize = b.batchSizeSet || b.claimMode != ClaimMode.LOG ? b.batchSize : DEFAULT_LOG_BATCH_SIZE;
    this.claimMode = b.claimMode;
    this.deletePublished = b.deletePublished;
    this.lease = b.lease;
    this.publishTimeout = b.publishTimeout;
    this.minPoll = b.minPollInterval;
    this.maxPoll = b.maxPollInterval;
    this.wakeRecheck = min(WAKE_RECHECK, minPoll);
    this.batchesInFlight = b.batchesInFlight;
    this.heartbeatInterval = b.heartbeatInterval == null ? b.lease.dividedBy(6) : b.heartbeatInterval;
    this.stallLimit = b.stallLimit;
    this.destinations = java.util.Set.copyOf(b.destinations);
    this.dataSource = b.dataSource;
    this.tables = b.tables;
    this.inFlight = new Semaphore(batchesInFlight);
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
    this.registry = b.registry;
    this.publishLatency =
        Timer.builder(CourierMetrics.RELAY_PUBLISH_LATENCY)
            .description("Time from sending a batch to the broker's last confirmation")
            .tag("transport", transport.name())
            .register(registry);
    this.relayLag =
        Timer.builder(CourierMetrics.RELAY_LAG)
            .description("Time from an event's creation to the broker's confirmation")
            .tag("transport", transport.name())
            .publishPercentileHistogram()
            .register(registry);
    Gauge.builder(CourierMetrics.RELAY_RUNNING, this, r -> r.state == State.RUNNING ? 1 : 0)
        .description("Relays whose publishing loop is running: 1 while this relay runs, else 0")
        .baseUnit("relays")
        .tag("relay", relayId)
        .tag("transport", transport.name())
        .register(registry);
    Gauge.builder(CourierMetrics.RELAY_LAST_PASS, this, Relay::lastCompletedPassEpochSeconds)
        .description(
            "When this relay last completed a pass over the outbox, in seconds since the epoch;"
                + " NaN while it is not running")
        .baseUnit("seconds")
        .tag("relay", relayId)
        .tag("transport", transport.name())
        .register(registry);
  }

  public static Builder builder(DataSource dataSource, Transport transport) {
    return new Builder(dataSource, transport);
  }

  /** This relay's id, stored in the {@code claimed_by} column of the rows it holds. */
  public String id() {
    return relayId;
  }

  public State state() {
    return state;
  }

  /**
   * When the last pass completed (by the relay's clock), whether it found work or not; empty before
   * the first. A pass that threw (the outbox could not be read) does not count, so a relay that
   * cannot reach its database shows an ever older last pass.
   */
  public Optional<Instant> lastCompletedPass() {
    return Optional.ofNullable(lastCompletedPass);
  }

  private double lastCompletedPassEpochSeconds() {
    Instant last = lastCompletedPass;
    if (state != State.RUNNING || last == null) {
      // a stopped relay is reported by the running gauge; an old timestamp would look like a stall
      return Double.NaN;
    }
    return last.getEpochSecond() + last.getNano() / 1e9;
  }

  /**
   * The longest time from an event's first publish to its last attempt: the retry policy's delay
   * ceilings ({@link RetryPolicy#horizon()}) plus, for every attempt but the last, the publish
   * timeout (an attempt that times out may have reached the broker) and the longest poll interval
   * (a row whose backoff ended waits for the next pass). A relay that dies between the broker's
   * confirmation and its mark adds its lease once more; that case is not counted. A broker that
   * deduplicates within a window (JetStream) must remember a message at least this long.
   */
  public Duration retryHorizon() {
    return retryHorizon(retryPolicy, publishTimeout, maxPoll);
  }

  /**
   * The {@link #retryHorizon()} of a relay built with the builder's defaults (the default retry
   * policy, publish timeout and longest poll interval): what a transport built without being told
   * a horizon assumes.
   */
  public static Duration defaultRetryHorizon() {
    Builder defaults = new Builder(null, null);
    return retryHorizon(defaults.retryPolicy, defaults.publishTimeout, defaults.maxPollInterval);
  }

  /**
   * The {@link #retryHorizon()} of a relay with these settings, for a transport built before the
   * relay.
   */
  public static Duration retryHorizon(
      RetryPolicy retryPolicy, Duration publishTimeout, Duration maxPollInterval) {
    long pauses = Math.max(0, retryPolicy.maxAttempts() - 1L);
    return retryPolicy.horizon().plus(publishTimeout.plus(maxPollInterval).multipliedBy(pauses));
  }

  /**
   * Starts the background loop. Calling it twice is an error.
   *
   * <p>Before it starts, the transport checks that the broker's deduplication covers {@link
   * #retryHorizon()} for every destination the relay knows: those named with {@link
   * Builder#destinations(String...)} and those of the outbox's pending rows ({@link
   * Transport#checkRetryHorizon}). A log-mode outbox has no pending rows: name its destinations.
   *
   * @throws dev.courier.UnsafeConfigurationException if a destination's broker-side duplicate
   *     window is shorter than the retry horizon; the relay is not started
   * @throws ConfigurationException if the transport cannot use a destination, or a log-mode relay
   *     finds an outbox that is not in log mode
   * @throws IllegalStateException if the {@linkplain Builder#threadFactory thread factory} returned
   *     no thread for the loop; the relay is not started
   */
  public void start() {
    if (state != State.NEW) {
      throw new IllegalStateException("relay " + relayId + " is " + state + "; start it once");
    }
    // outside the lock: the transport may ask the broker, and wakeup() must never wait for that
    checkRetryHorizon();
    lock.lock();
    try {
      if (state != State.NEW) {
        throw new IllegalStateException("relay " + relayId + " is " + state + "; start it once");
      }
      try {
        if (claimMode == ClaimMode.LOG) {
          registerLogRelay();
        } else {
          refuseLogModeOutbox();
        }
      } catch (ConfigurationException e) {
        throw e;
      } catch (CourierException e) {
        // the database is not reachable yet: the loop keeps trying (and checking), as for any pass
        log.warn("relay {} could not read its outbox's log partitions yet: {}", relayId, e.getMessage());
      }
      ExecutorService pool =
          Executors.newFixedThreadPool(
              batchesInFlight, Threads.numbered(threadFactory, "courier-relay-" + relayId + "-publish-"));
      Thread t;
      try {
        t =
            Threads.unstarted(
                threadFactory,
                "courier-relay-" + relayId,
                claimMode == ClaimMode.LOG ? this::runLogLoop : this::runLoop);
      } catch (RuntimeException e) {
        pool.shutdownNow();
        throw e;
      }
      publishers = pool;
      if (claimMode == ClaimMode.LOG) {
        reader =
            Executors.newSingleThreadExecutor(
                Threads.named(threadFactory, "courier-relay-" + relayId + "-reader"));
      }
      loop = t;
      state = State.RUNNING;
      t.start();
    } finally {
      lock.unlock();
    }
    log.info(
        "relay {} started: transport={}, batchSize={}, batchesInFlight={}, claimMode={},"
            + " deletePublished={}, lease={}, retry={}",
        relayId,
        transport.name(),
        batchSize,
        batchesInFlight,
        claimMode,
        deletePublished,
        lease,
        retryPolicy);
  }

  private void checkRetryHorizon() {
    java.util.Set<String> known = new java.util.TreeSet<>(destinations);
    if (claimMode != ClaimMode.LOG) {
      try {
        known.addAll(store.pendingDestinations());
      } catch (java.sql.SQLException e) {
        // the loop reports an unreachable database on every pass; the transport still checks each
        // destination when it first publishes to it
        log.warn(
            "relay {} could not read its outbox's pending destinations to check them: {}",
            relayId,
            e.getMessage());
      }
    }
    transport.checkRetryHorizon(retryHorizon(), known);
  }

  /**
   * Asks the relay to look for work now. Cheap and safe to call from any thread, as often as
   * wanted; calls while a pass is running coalesce into one more pass.
   */
  public void wakeup() {
    lock.lock();
    try {
      wakeRequested = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Runs one pass: claims up to a batch of due rows, publishes them, waits for the confirmations
   * and records the outcome of each. Used by the background loop, and directly by tests and tools
   * that need a deterministic step.
   *
   * @throws CourierException if the outbox could not be read; nothing was claimed
   */
  public BatchResult runOnce() {
    passLock.lock();
    try {
      if (claimMode == ClaimMode.LOG) {
        return runLogOnce();
      }
      Claimed batch = claim(Long.MIN_VALUE);
      BatchResult result = batch.rows().isEmpty() ? BatchResult.EMPTY : publishAndRecord(batch);
      lastCompletedPass = clock.instant();
      return result;
    } finally {
      passLock.unlock();
    }
  }

  /**
   * Makes the log-mode engine and registers it; an id another live relay process holds is logged
   * as an error (this relay then waits, publishing nothing, until the other's heartbeat is stale).
   */
  private void registerLogRelay() {
    LogRelay engine = logRelay();
    try {
      engine.register();
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not register relay " + relayId + " with " + tables.outbox(), e);
    }
  }

  /** The log-mode engine, made on first use: it checks that the outbox is in log mode. */
  private LogRelay logRelay() {
    if (logRelay == null) {
      LogStore store;
      try {
        store = LogStore.open(dataSource, tables);
      } catch (SQLException e) {
        throw DatabaseFailures.of("could not read the log partitions of " + tables.outbox(), e);
      }
      logRelay =
          new LogRelay(
              this,
              store,
              transport,
              retryPolicy,
              relayId,
              batchSize,
              batchesInFlight,
              lease,
              heartbeatInterval,
              stallLimit,
              publishTimeout,
              clock,
              this::wakeup);
    }
    return logRelay;
  }

  /** One log-mode pass, publishing inline: for tests and tools that step the relay. */
  private BatchResult runLogOnce() {
    LogRelay engine = logRelay();
    try {
      LogRelay.PassResult r = engine.passInline(inFlight);
      lastCompletedPass = clock.instant();
      return new BatchResult(r.read(), r.published(), r.retried(), r.dead(), 0);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the outbox log", e);
    }
  }

  /**
   * The log-mode loop: passes back to back while they make progress; otherwise it waits for a
   * wake-up, a finished publish, a retry falling due or the poll interval, whichever comes first.
   * On stopping, it lets the batches in flight finish and gives its partitions back.
   */
  private void runLogLoop() {
    Duration next = minPoll;
    LogRelay engine = null;
    while (state == State.RUNNING) {
      LogRelay.PassResult r;
      try {
        passLock.lock();
        try {
          engine = logRelay();
          r = engine.pass(publishers, reader, inFlight);
        } finally {
          passLock.unlock();
        }
        lastCompletedPass = clock.instant();
      } catch (RuntimeException | SQLException e) {
        log.error("relay {} pass failed, backing off {} ms: {}", relayId, maxPoll.toMillis(), e.toString());
        next = maxPoll;
        if (awaitWakeup(maxPoll)) {
          next = wakeRecheck;
        }
        continue;
      }
      if (r.progressed()) {
        next = minPoll;
        continue;
      }
      Duration wait = next;
      Instant retry = engine.nextRetry();
      if (retry != null) {
        Duration untilRetry = Duration.between(clock.instant(), retry);
        wait = untilRetry.isNegative() ? Duration.ZERO : min(wait, untilRetry);
      }
      if (engine.ownedPartitions() == 0) {
        wait = min(wait, Duration.ofMillis(200));
      }
      Duration settling = engine.untilSettling();
      if (settling != null) {
        wait = min(wait, settling);
      }
      next = min(next.multipliedBy(2), maxPoll);
      if (!wait.isZero() && awaitWakeup(wait)) {
        next = wakeRecheck;
      }
    }
    if (engine != null) {
      // the batches in flight finish (each within the publish timeout) before the cursors are written
      long deadline = System.nanoTime() + publishTimeout.plusSeconds(5).toNanos();
      while (!engine.idle() && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(5).toNanos());
        engine.drain(inFlight);
      }
      engine.releaseAll(inFlight);
    }
  }

  // the log-mode engine reports what it does through these, so both engines share the meters

  void recordPublishLatency(long nanos) {
    publishLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void recordConfirmed(Event event, Instant now, PublishResult.Confirmed c) {
    Duration lag = Duration.between(event.createdAt(), now);
    if (!lag.isNegative()) {
      relayLag.record(lag);
    }
    publishedCounter(event.destination()).increment();
    if (c.brokerDuplicate()) {
      try (EventLog ignored = EventLog.of(event)) {
        log.info("broker reported the event as a duplicate it already stores ({})", c.position());
      }
    }
  }

  void recordFailure(Event event) {
    counter(CourierMetrics.RELAY_FAILURES, "Failed publish attempts", event.destination()).increment();
  }

  void recordRetry(Event event) {
    counter(CourierMetrics.RELAY_RETRIES, "Failed publishes scheduled for another attempt", event.destination())
        .increment();
  }

  void recordDead(Event event) {
    counter(CourierMetrics.RELAY_DEAD, "Outbox rows parked as dead", event.destination()).increment();
  }

  void logFenced() {
    Counter.builder(CourierMetrics.RELAY_FENCED)
        .description("Log partitions this relay lost to another relay while it owned them")
        .baseUnit("partitions")
        .tag("relay", relayId)
        .tag("transport", transport.name())
        .register(registry)
        .increment();
  }

  /** A claimed batch: its rows and, in {@link ClaimMode#LOCK}, the transaction holding them. */
  private record Claimed(List<ClaimedRow> rows, OutboxStore.HeldBatch held) {}

  /**
   * Refuses an outbox in log mode: its rows are never {@code PENDING}, so this relay would publish
   * nothing and say nothing. Checked once, at start or, if the database was not reachable then, at
   * the first pass that reaches it; until it passes every pass fails with this message.
   */
  private void refuseLogModeOutbox() {
    if (outboxModeChecked) {
      return;
    }
    int partitions;
    try {
      partitions = store.logPartitions();
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not read the log partitions of " + tables.outbox(), e);
    }
    if (partitions > 0) {
      throw new ConfigurationException(
          "claimMode",
          "the outbox "
              + tables.outbox()
              + " is in log mode ("
              + partitions
              + " partitions): its rows are read by relays with claimMode(LOG) (--claim-mode log),"
              + " never claimed; a "
              + claimMode
              + " relay would publish none of them");
    }
    outboxModeChecked = true;
  }

  private Claimed claim(long fromSeq) {
    refuseLogModeOutbox();
    Instant now = clock.instant();
    try {
      if (claimMode == ClaimMode.LOCK) {
        OutboxStore.HeldBatch held = store.claimLocked(batchSize, fromSeq, now, lease);
        return new Claimed(held.rows(), held);
      }
      return new Claimed(store.claim(batchSize, fromSeq, now, now.plus(lease), relayId), null);
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not claim outbox rows", e);
    }
  }

  private BatchResult publishAndRecord(Claimed batch) {
    try {
      return publishAndRecord(batch.rows(), batch.held());
    } catch (RuntimeException | Error e) {
      abandon(batch);
      throw e;
    }
  }

  /** Ends a held batch without recording anything; its rows are pending again at once. */
  private void abandon(Claimed batch) {
    if (batch.held() == null) {
      return;
    }
    try {
      store.abandon(batch.held());
    } catch (SQLException e) {
      log.warn("could not end the claim of {} rows cleanly: {}", batch.rows().size(), e.toString());
    }
  }

  private BatchResult publishAndRecord(List<ClaimedRow> rows, OutboxStore.HeldBatch held) {
    List<Event> events = new ArrayList<>(rows.size());
    for (ClaimedRow r : rows) {
      events.add(r.event());
    }
    List<PublishResult> results;
    long started = System.nanoTime();
    try {
      results = transport.publish(events, publishTimeout);
    } catch (RuntimeException e) {
      // A transport must report per-event failures; a throw means it could not even try. Treat
      // every event as a retriable failure so nothing is lost.
      log.warn("transport {} failed a whole batch of {}: {}", transport.name(), rows.size(), e.toString());
      results = new ArrayList<>(rows.size());
      for (ClaimedRow r : rows) {
        results.add(new PublishResult.Failed(r.event().id(), e, true));
      }
    }
    publishLatency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
    return record(rows, results, held);
  }

  private BatchResult record(
      List<ClaimedRow> rows, List<PublishResult> results, OutboxStore.HeldBatch held) {
    Map<UUID, PublishResult> byId = new HashMap<>(results.size() * 2);
    for (PublishResult r : results) {
      byId.put(r.eventId(), r);
    }
    Instant now = clock.instant();
    List<Long> confirmed = new ArrayList<>(rows.size());
    // Interrupted while stopping: unconfirmed rows go back untouched instead of being charged an
    // attempt and a backoff, so the next relay publishes them at once.
    boolean stopping = Thread.currentThread().isInterrupted() && state != State.RUNNING;
    List<ClaimedRow> unattempted = new ArrayList<>();
    // LOCK mode: failures are written with the mark, in the claim's transaction
    List<OutboxStore.Failure> failures = new ArrayList<>();
    // counted once per destination and batch rather than looked up per event
    Map<String, Integer> publishedPerDestination = new HashMap<>();
    int retried = 0;
    int dead = 0;
    for (ClaimedRow row : rows) {
      PublishResult result = byId.get(row.event().id());
      if (result == null) {
        result =
            new PublishResult.Failed(
                row.event().id(),
                new RetriableCourierException("transport " + transport.name() + " returned no result for the event", null),
                true);
      }
      switch (result) {
        case PublishResult.Confirmed c -> {
          confirmed.add(row.seq());
          Duration lag = Duration.between(row.event().createdAt(), now);
          if (!lag.isNegative()) {
            relayLag.record(lag);
          }
          publishedPerDestination.merge(row.event().destination(), 1, Integer::sum);
          if (c.brokerDuplicate()) {
            try (EventLog ignored = EventLog.of(row.event()).with(EventLog.ATTEMPT, row.attempt())) {
              log.info("broker reported the event as a duplicate it already stores ({})", c.position());
            }
          }
        }
        case PublishResult.Failed f when stopping -> unattempted.add(row);
        case PublishResult.Failed f -> {
          counter(CourierMetrics.RELAY_FAILURES, "Failed publish attempts", row.event().destination())
              .increment();
          if (failOne(row, f, now, held == null ? null : failures)) {
            dead++;
          } else {
            retried++;
          }
        }
      }
    }
    publishedPerDestination.forEach(
        (destination, n) ->
            counter(CourierMetrics.RELAY_PUBLISHED, "Events the broker confirmed", destination).increment(n));
    if (held != null) {
      try {
        // unattempted rows are not written: the commit gives them back as they were
        store.finish(held, confirmed, failures, now);
      } catch (SQLException e) {
        log.error(
            "could not record the outcome of a batch of {} ({} confirmed); its rows are pending"
                + " again and will be published once more: {}",
            rows.size(),
            confirmed.size(),
            e.toString());
        return new BatchResult(rows.size(), 0, 0, 0, rows.size());
      }
      if (!unattempted.isEmpty()) {
        log.info("released {} unpublished rows on shutdown", unattempted.size());
      }
      logPublished(rows, confirmed);
      return new BatchResult(rows.size(), confirmed.size(), retried, dead, unattempted.size());
    }
    int released = unattempted.isEmpty() ? 0 : release(unattempted).released();
    try {
      store.markPublished(confirmed, now);
    } catch (SQLException e) {
      // The broker has these events; the rows stay leased and are published again when the lease
      // expires. Consumers deduplicate. Losing the mark costs a duplicate, never an event.
      log.error(
          "could not mark {} confirmed rows as published; they will be republished after the lease"
              + " ({}): {}",
          confirmed.size(),
          lease,
          e.toString());
      return new BatchResult(rows.size(), 0, retried, dead, released);
    }
    logPublished(rows, confirmed);
    return new BatchResult(rows.size(), confirmed.size(), retried, dead, released);
  }

  private static void logPublished(List<ClaimedRow> rows, List<Long> confirmed) {
    if (log.isDebugEnabled()) {
      for (ClaimedRow row : rows) {
        if (confirmed.contains(row.seq())) {
          try (EventLog ignored = EventLog.of(row.event()).with(EventLog.ATTEMPT, row.attempt())) {
            log.debug("event published");
          }
        }
      }
    }
  }

  /**
   * Records one failure, at once (LEASE mode, {@code pending} null) or by adding it to {@code
   * pending} for the batch's commit (LOCK mode); returns true if the row is parked as dead.
   */
  private boolean failOne(
      ClaimedRow row, PublishResult.Failed f, Instant now, List<OutboxStore.Failure> pending) {
    String error = f.error().toString();
    try (EventLog ignored = EventLog.of(row.event()).with(EventLog.ATTEMPT, row.attempt())) {
      boolean dead = !f.retriable() || !retryPolicy.canRetry(row.attempt());
      Duration delay = dead ? Duration.ZERO : retryPolicy.delay(row.attempt());
      try {
        if (pending != null) {
          pending.add(new OutboxStore.Failure(row.seq(), dead, now.plus(delay), row.attempt(), error));
        } else if (dead) {
          store.markDead(row.seq(), now, error, relayId);
        } else {
          store.markRetry(row.seq(), now.plus(delay), error, relayId);
        }
      } catch (SQLException e) {
        // The row keeps its lease and becomes claimable again when it expires.
        log.error("could not record publish failure; the row is retried after its lease: {}", e.toString());
        return dead;
      }
      if (dead) {
        counter(CourierMetrics.RELAY_DEAD, "Outbox rows parked as dead", row.event().destination())
            .increment();
        log.error(
            "publish failed {}; row parked as DEAD after {} attempt(s): {}",
            f.retriable() ? "on its last attempt" : "and cannot succeed by retrying",
            row.attempt(),
            error);
      } else {
        counter(CourierMetrics.RELAY_RETRIES, "Failed publishes scheduled for another attempt", row.event().destination())
            .increment();
        log.warn(
            "publish attempt {} of {} failed, retrying in {} ms: {}",
            row.attempt(),
            retryPolicy.maxAttempts(),
            delay.toMillis(),
            error);
      }
      return dead;
    }
  }

  private BatchResult release(List<ClaimedRow> rows) {
    List<Long> seqs = rows.stream().map(ClaimedRow::seq).toList();
    try {
      store.release(seqs, clock.instant(), relayId);
      log.info("released {} unpublished rows on shutdown", seqs.size());
    } catch (SQLException e) {
      log.warn("could not release {} rows; they become claimable when their lease expires: {}", seqs.size(), e.toString());
    }
    return new BatchResult(rows.size(), 0, 0, 0, rows.size());
  }

  // the last destination's published counter: a relay's confirmations mostly share one
  private volatile DestinationCounter lastPublished;

  private record DestinationCounter(String destination, Counter counter) {}

  private Counter publishedCounter(String destination) {
    DestinationCounter last = lastPublished;
    if (last != null && last.destination().equals(destination)) {
      return last.counter();
    }
    Counter c = counter(CourierMetrics.RELAY_PUBLISHED, "Events the broker confirmed", destination);
    lastPublished = new DestinationCounter(destination, c);
    return c;
  }

  private Counter counter(String name, String description, String destination) {
    return counters.computeIfAbsent(
        name + '|' + destination,
        k ->
            Counter.builder(name)
                .description(description)
                .baseUnit("events")
                .tag("destination", destination)
                .tag("transport", transport.name())
                .register(registry));
  }

  /**
   * The background loop: claims batches and hands each to a publisher thread, which publishes it,
   * waits for the confirmations and records them, so that claiming the next batch overlaps the
   * broker's round trip and the previous batch's mark. At most {@code batchesInFlight} batches are
   * claimed and not yet recorded at any time.
   */
  private void runLoop() {
    // the wait before the next pass if this one finds nothing
    Duration next = minPoll;
    // where the next claim may start (see FULL_SCAN_INTERVAL); MIN_VALUE: from the start
    long hint = Long.MIN_VALUE;
    long lastFullScan = System.nanoTime();
    while (state == State.RUNNING) {
      if (!acquireInFlight()) {
        break;
      }
      Claimed batch;
      try {
        if (hint != Long.MIN_VALUE && System.nanoTime() - lastFullScan >= FULL_SCAN_INTERVAL.toNanos()) {
          hint = Long.MIN_VALUE;
        }
        if (hint == Long.MIN_VALUE) {
          lastFullScan = System.nanoTime();
        }
        batch = claim(hint);
        // rows come sorted by seq
        hint = batch.rows().size() >= batchSize ? batch.rows().getFirst().seq() : Long.MIN_VALUE;
      } catch (RuntimeException e) {
        hint = Long.MIN_VALUE;
        inFlight.release();
        log.error("relay {} pass failed, backing off {} ms: {}", relayId, maxPoll.toMillis(), e.toString());
        next = maxPoll;
        if (awaitWakeup(maxPoll)) {
          next = wakeRecheck;
        }
        continue;
      }
      Duration wait;
      List<ClaimedRow> rows = batch.rows();
      if (rows.isEmpty()) {
        inFlight.release();
        lastCompletedPass = clock.instant();
        wait = next;
        next = min(next.multipliedBy(2), maxPoll);
      } else {
        submit(batch);
        if (rows.size() >= batchSize) {
          next = minPoll;
          continue;
        }
        wait = minPoll;
        next = minPoll;
      }
      if (awaitWakeup(wait)) {
        // A hint usually comes from inside the writer's transaction, before its commit: if the pass
        // it starts finds nothing, look again after 1 ms, then 2, 4 ... instead of the idle interval.
        next = wakeRecheck;
      }
    }
  }

  /** Waits until fewer than {@code batchesInFlight} batches are in flight; false if stopping. */
  private boolean acquireInFlight() {
    try {
      while (state == State.RUNNING) {
        if (inFlight.tryAcquire(50, TimeUnit.MILLISECONDS)) {
          return true;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  private void submit(Claimed batch) {
    try {
      publishers.execute(
          () -> {
            try {
              publishAndRecord(batch);
              lastCompletedPass = clock.instant();
            } catch (RuntimeException e) {
              // LEASE: the rows keep their lease and are claimed again when it expires; LOCK: the
              // claim's transaction was rolled back and they are pending again
              log.error(
                  "relay {} could not publish a batch of {}: {}", relayId, batch.rows().size(), e.toString());
            } finally {
              inFlight.release();
            }
          });
    } catch (RejectedExecutionException e) {
      // closing: the rows were claimed but not attempted; give them back at once
      inFlight.release();
      if (batch.held() != null) {
        abandon(batch);
      } else {
        release(batch.rows());
      }
    }
  }

  /** Waits up to {@code timeout} for a wakeup; returns true if woken. */
  private boolean awaitWakeup(Duration timeout) {
    lock.lock();
    try {
      long nanos = timeout.toNanos();
      while (!wakeRequested && state == State.RUNNING && nanos > 0) {
        nanos = wake.awaitNanos(nanos);
      }
      boolean woken = wakeRequested;
      wakeRequested = false;
      return woken;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }

  static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /**
   * Stops gracefully: no new rows are claimed, the pass in flight finishes (its confirmations are
   * awaited up to the publish timeout and recorded), then the relay stops. Rows it still held are
   * released for other relays. Idempotent.
   */
  @Override
  public void close() {
    Thread t;
    lock.lock();
    try {
      if (state == State.STOPPED || state == State.STOPPING) {
        return;
      }
      if (state == State.NEW) {
        state = State.STOPPED;
        if (logRelay != null) {
          // stepped with runOnce only: give its partitions back for the other relays
          passLock.lock();
          try {
            logRelay.releaseAll(inFlight);
          } finally {
            passLock.unlock();
          }
        }
        return;
      }
      state = State.STOPPING;
      wake.signalAll();
      t = loop;
    } finally {
      lock.unlock();
    }
    try {
      long deadline = System.nanoTime() + publishTimeout.plusSeconds(5).toNanos();
      t.join(Math.max(1, publishTimeout.plusSeconds(5).toMillis()));
      if (t.isAlive()) {
        log.warn("relay {} pass did not finish in time; interrupting it", relayId);
        t.interrupt();
        t.join(5_000);
      }
      if (reader != null) {
        reader.shutdown(); // the loop has ended: no page is asked for any more
      }
      // batches in flight finish: their confirmations are awaited and recorded
      publishers.shutdown();
      if (!publishers.awaitTermination(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        log.warn("relay {} batches in flight did not finish in time; interrupting them", relayId);
        publishers.shutdownNow();
        publishers.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    state = State.STOPPED;
    log.info("relay {} stopped", relayId);
  }

  /** Builds a {@link Relay}; every setting is checked at {@link #build()}. */
  public static final class Builder {
    private final DataSource dataSource;
    private final Transport transport;
    private String relayId;
    private boolean relayIdSet;
    private CourierTables tables = CourierTables.DEFAULT;
    private RetryPolicy retryPolicy = RetryPolicy.defaultPolicy();
    private int batchSize = DEFAULT_BATCH_SIZE;
    private boolean batchSizeSet;
    private ClaimMode claimMode = ClaimMode.LEASE;
    private boolean deletePublished;
    private Duration lease = Duration.ofSeconds(60);
    private Duration publishTimeout = Duration.ofSeconds(30);
    private Duration minPollInterval = Duration.ofMillis(5);
    private Duration maxPollInterval = Duration.ofSeconds(1);
    private int batchesInFlight = 2;
    private Duration heartbeatInterval;
    private Duration stallLimit = Duration.ofMinutes(1);
    private final java.util.Set<String> destinations = new java.util.TreeSet<>();
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;
    private MeterRegistry registry = new SimpleMeterRegistry();

    private Builder(DataSource dataSource, Transport transport) {
      this.dataSource = dataSource;
      this.transport = transport;
    }

    /**
     * A unique name for this relay, stored with the rows it claims and put in the {@code relay} tag
     * of its gauges. By default the host name (the second relay built in the same JVM without an id
     * gets {@code host-2}, and so on), which a restart keeps, so the relay's metric series do not
     * change when it restarts. Two relay processes on one host must be given different ids.
     */
    public Builder relayId(String relayId) {
      this.relayId = relayId;
      this.relayIdSet = true;
      return this;
    }

    public Builder tables(CourierTables tables) {
      this.tables = Objects.requireNonNull(tables, "tables");
      return this;
    }

    /** Publish retries (default: 10 attempts, 1 s doubling to 5 min, full jitter). */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /**
     * Rows claimed and published per pass: default {@value #DEFAULT_BATCH_SIZE} in {@link
     * ClaimMode#LEASE} and {@link ClaimMode#LOCK}, {@value #DEFAULT_LOG_BATCH_SIZE} in {@link
     * ClaimMode#LOG}, whose reads and cursor writes cost per batch, not per row (W2 in
     * BENCHMARKS.md).
     */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      this.batchSizeSet = true;
      return this;
    }

    /**
     * How the relay holds the rows of a batch while publishing them (default {@link
     * ClaimMode#LEASE}); see {@link ClaimMode} for what each costs.
     */
    public Builder claimMode(ClaimMode claimMode) {
      this.claimMode = Objects.requireNonNull(claimMode, "claimMode");
      return this;
    }

    /**
     * Whether a row the broker confirmed is deleted instead of being marked {@code PUBLISHED}
     * (default false). Deleting is the cheaper write (W2 in docs/BENCHMARKS.md), but the outbox
     * then keeps no history: {@code outbox status} shows no published rows, and retention has
     * nothing to move to the archive, so {@code courier replay} of published history finds nothing
     * this relay published. The broker's own retention is then the history. Dead rows stay either
     * way.
     */
    public Builder deletePublished(boolean deletePublished) {
      this.deletePublished = deletePublished;
      return this;
    }

    /**
     * How long claimed rows stay reserved for this relay (default 60 s); in {@link ClaimMode#LOCK},
     * how long a claim's transaction may sit idle before the database ends it. Must exceed the publish
     * timeout; a relay paused or killed longer than this loses its rows to other relays.
     */
    public Builder lease(Duration lease) {
      this.lease = lease;
      return this;
    }

    /** How long a pass waits for the broker's confirmations (default 30 s). */
    public Builder publishTimeout(Duration publishTimeout) {
      this.publishTimeout = publishTimeout;
      return this;
    }

    /**
     * The wait after a pass that found less than a full batch, and the first wait when the relay
     * goes idle (default 5 ms). After a {@link Relay#wakeup()} whose pass finds nothing, the relay
     * looks again after 1 ms (or this interval, if shorter), doubling on each empty pass.
     */
    public Builder minPollInterval(Duration minPollInterval) {
      this.minPollInterval = minPollInterval;
      return this;
    }

    /** Longest wait between passes when idle (default 1 s). */
    public Builder maxPollInterval(Duration maxPollInterval) {
      this.maxPollInterval = maxPollInterval;
      return this;
    }

    /**
     * How many claimed batches may be publishing at once (default 2, at most 16). With 2, the next
     * batch is claimed and sent while the previous one waits for the broker's confirmations. 1
     * publishes one batch at a time, claiming only after the previous batch was recorded.
     */
    public Builder batchesInFlight(int batchesInFlight) {
      this.batchesInFlight = batchesInFlight;
      return this;
    }

    /**
     * {@link ClaimMode#LOG}: how often the relay renews its partitions' leases and looks at which
     * relays are alive (default a sixth of the {@linkplain #lease(Duration) lease}). A relay that
     * stops renewing loses its partitions when the lease ends; another relay takes them and
     * publishes again from their last written cursor.
     */
    public Builder heartbeatInterval(Duration heartbeatInterval) {
      this.heartbeatInterval = heartbeatInterval;
      return this;
    }

    /**
     * {@link ClaimMode#LOG}: how long a failing event may hold back the cursor of its partition
     * while other events of the partition are being confirmed (default 1 minute). Past it, the
     * event is parked as dead even if it has attempts left, and its key's later events are parked
     * behind it. While nothing is being confirmed (the broker is down), only the retry policy's
     * attempts count.
     */
    public Builder stallLimit(Duration stallLimit) {
      this.stallLimit = stallLimit;
      return this;
    }

    /**
     * Destinations the transport checks when the relay starts (see {@link Relay#start()}), besides
     * those of the outbox's pending rows. Publishing is not limited to them.
     */
    public Builder destinations(String... destinations) {
      for (String d : destinations) {
        this.destinations.add(Objects.requireNonNull(d, "destination"));
      }
      return this;
    }

    /**
     * The clock the relay reads the time from (default {@link Clock#systemUTC()}): when it claims
     * rows and how long it leases them, when a failed row is due again ({@code now} plus the retry
     * policy's delay), the times it writes into the outbox, a log-mode relay's cursor and partition
     * timestamps, and {@link Relay#lastCompletedPass()}. Rows become claimable when their {@code
     * available_at} is at or before this clock's time, so it must agree with the clock of the
     * {@link dev.courier.outbox.Outbox} that appends them and with the other relays' clocks to well
     * under the lease. Waits and timeouts (poll intervals, the publish timeout, heartbeats) are
     * measured with {@link System#nanoTime()}, not with this clock. It is read from the relay's
     * threads at once, so it must be safe for concurrent use, as the JDK's clocks and {@code
     * TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where the relay's threads come from (default: daemon platform threads). {@link
     * Relay#start()} takes the loop's thread from it at once, and the loop takes one publishing
     * thread per batch in flight as it needs them, up to {@link #batchesInFlight(int)}; {@link
     * Relay#close()} ends them all. The relay names each thread it takes: {@code
     * courier-relay-<id>} for the loop and {@code courier-relay-<id>-publish-<n>} for the
     * publishers, as they appear in the log. The factory must return a new, unstarted thread; one
     * that returns no thread makes {@link Relay#start()} throw. It is called from the thread that
     * starts the relay and from the relay's loop, so a factory shared with other components must be
     * safe for concurrent use. Its threads block on the database and the broker, which virtual
     * threads ({@code Thread.ofVirtual().factory()}) do well; whether they are daemons is the
     * factory's choice, and a relay whose threads are not keeps the JVM alive until it is closed.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    public Relay build() {
      Objects.requireNonNull(dataSource, "dataSource");
      Objects.requireNonNull(transport, "transport");
      if (!relayIdSet) {
        relayId = DefaultRelayId.next();
        relayIdSet = true;
      }
      if (relayId == null || relayId.isBlank() || relayId.length() > 255) {
        throw new ConfigurationException("relayId", "must be 1 to 255 characters");
      }
      if (batchSize < 1 || batchSize > 10_000) {
        throw new ConfigurationException("batchSize", "must be between 1 and 10000, was " + batchSize);
      }
      if (batchesInFlight < 1 || batchesInFlight > 16) {
        throw new ConfigurationException(
            "batchesInFlight", "must be between 1 and 16, was " + batchesInFlight);
      }
      requirePositive("publishTimeout", publishTimeout);
      requirePositive("lease", lease);
      requirePositive("minPollInterval", minPollInterval);
      requirePositive("maxPollInterval", maxPollInterval);
      requirePositive("stallLimit", stallLimit);
      if (heartbeatInterval != null) {
        requirePositive("heartbeatInterval", heartbeatInterval);
        if (heartbeatInterval.multipliedBy(3).compareTo(lease) > 0) {
          throw new ConfigurationException(
              "heartbeatInterval",
              "must be at most a third of the lease (" + lease + "), was " + heartbeatInterval
                  + "; a relay must renew its partitions several times before their lease ends");
        }
      }
      if (lease.compareTo(publishTimeout.multipliedBy(2)) < 0) {
        throw new ConfigurationException(
            "lease",
            "must be at least twice publishTimeout ("
                + publishTimeout
                + "), was "
                + lease
                + "; a shorter lease lets another relay republish rows still in flight");
      }
      if (maxPollInterval.compareTo(minPollInterval) < 0) {
        throw new ConfigurationException(
            "maxPollInterval", "must be >= minPollInterval (" + minPollInterval + "), was " + maxPollInterval);
      }
      return new Relay(this);
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new ConfigurationException(name, "must be a positive duration, was " + d);
      }
    }
  }
}
