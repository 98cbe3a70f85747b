package dev.courier.inbox;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.Event;
import dev.courier.FatalCourierException;
import dev.courier.InvalidEventException;
import dev.courier.PoisonEventException;
import dev.courier.StatementFailedException;
import dev.courier.TransactionConflictException;
import dev.courier.admin.Attribution;
import dev.courier.deadletter.DeadLetter;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.deadletter.DeadLetterStore;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.EventLog;
import dev.courier.internal.LedgerIds;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import dev.courier.metrics.CourierMetrics;
import dev.courier.internal.Text;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.ReceivedMessage;
import dev.courier.tracing.Tracing;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport-independent heart of an idempotent consumer: runs one delivery of an event
 * through the processed-events ledger and the user's handler in one database transaction, and
 * decides what the transport does next.
 *
 * <p><b>Guarantee.</b> For each {@code (consumer, event id)} the handler's database effect commits
 * at most once. The ledger row is inserted first in the transaction; if it is already there the
 * handler is not called and the outcome is {@link HandleOutcome.Duplicate}. If two deliveries of
 * the same event race, the database's unique key makes the second wait and then see the first's
 * row. A transport must acknowledge a delivery only after {@link #process} returned an outcome
 * whose {@link HandleOutcome#acknowledge()} is true: by then the effect, the duplicate decision or
 * the dead letter is committed.
 *
 * <p>Failed attempts are rolled back completely and retried with the consumer's {@link
 * RetryPolicy}; after the last attempt, or at once for a {@link FatalCourierException} (poison
 * event, unknown type, malformed event), the event is written to the dead-letter table and the
 * outcome is {@link HandleOutcome.DeadLettered}.
 *
 * <p><b>Ordered mode</b> ({@link Builder#orderedByKey}): once an event of a key is dead-lettered,
 * later events of that key (same consumer and destination) are not handled but parked behind it
 * (dead letters with reason and status {@code PARKED}, acknowledged like any dead letter), while
 * other keys keep flowing. Replaying the dead letter releases it and the events parked behind it,
 * in their order. This costs one indexed query per delivery of a keyed event. In unordered mode
 * (the default) every event is handled on its own.
 *
 * <p><b>Replays addressed to one consumer.</b> An event carrying the {@link
 * ReceivedMessage#REPLAY_CONSUMER} header (put there by a history replay to one consumer) is
 * handled only by the consumer it names. Every other consumer acknowledges it at once as {@link
 * HandleOutcome.NotAddressed}: no ledger row, no handler call, counted in {@code
 * courier.consumer.replay.skipped} and logged with the event id. The addressed consumer handles it
 * even if its ledger already holds the event: the ledger key of such a delivery is {@code
 * (consumer, replayLedgerId(event id, replay id))} instead of {@code (consumer, event id)}, so the
 * first delivery of the replay applies the event again and every redelivery of that replay is a
 * duplicate. The plain {@code (consumer, event id)} row is written too when it is missing, so a
 * later ordinary redelivery of the event stays a duplicate.
 *
 * <p><b>Batches</b> ({@link Builder#applyInBatches}, off by default): {@link #processAll} applies a
 * run of received events in one transaction (their ledger rows in one JDBC batch, the handler for
 * each new one in order on the same connection, one commit), so that a consumer pays one commit, and
 * one wait for the disk, per batch instead of per event. The guarantee above is unchanged: each
 * event's effect commits with its ledger row. If the handler throws for one event, the whole
 * transaction is rolled back and the run is processed again one event at a time, so the failing
 * event gets its own retry or dead letter and the others are applied once.
 *
 * <p>Thread-safe; one instance per consumer name.
 */
public final class IdempotentProcessor {
  private static final Logger log = LoggerFactory.getLogger(IdempotentProcessor.class);
  private final String consumer;
  private final DataSource dataSource;
  private final EventHandler handler;
  private final CourierTables tables;
  private final RetryPolicy retryPolicy;
  private final Clock clock;
  private final Predicate<Throwable> retryable;
  private final DeadLetterStore deadLetters;
  private final Counter processed;
  private final Counter dedupeHits;
  private final Counter retries;
  private final Counter replaySkipped;
  private final MeterRegistry registry;
  private final Timer endToEnd;
  private final boolean ordered;
  private final int batchSize;
  private final ConsumerPauses pauses;
  private final int autoPauseDeadLetters;
  private final Duration autoPauseWindow;
  /** When this processor's own dead letters were written, newest last, for the auto-pause. */
  private final java.util.ArrayDeque<Instant> recentDeadLetters = new java.util.ArrayDeque<>();
  /** The consumer's pause as last read, or null while it runs. */
  private volatile ConsumerPauses.Pause pause;
  /** When the pause is read again, in {@link System#nanoTime()}: at the first delivery. */
  private volatile long nextPauseCheck = System.nanoTime();
  private volatile boolean pauseTableMissingLogged;
  private volatile Dialect dialect;
  /** Set when the driver does not report a batch's update counts: batches are off from then on. */
  private volatile boolean batchCountsUnreported;

  /** How often a processor reads whether its consumer is paused. */
  static final Duration PAUSE_CHECK_INTERVAL = Duration.ofSeconds(1);

  private IdempotentProcessor(Builder b) {
    this.consumer = b.consumer;
    this.dataSource = b.dataSource;
    this.handler = b.handler;
    this.tables = b.tables;
    this.retryPolicy = b.retryPolicy;
    this.clock = b.clock;
    this.retryable = b.retryable;
    this.deadLetters = new DeadLetterStore(dataSource, tables);
    this.registry = b.registry;
    this.ordered = b.ordered;
    this.batchSize = b.batchSize;
    this.pauses = new ConsumerPauses(dataSource, tables, clock);
    this.autoPauseDeadLetters = b.autoPauseDeadLetters;
    this.autoPauseWindow = b.autoPauseWindow;
    io.micrometer.core.instrument.Gauge.builder(CourierMetrics.CONSUMER_PAUSED, this, p -> p.pause == null ? 0 : 1)
        .description("1 while the consumer is paused (by an operator, or by itself after too many dead letters)")
        .baseUnit("consumers")
        .tag("consumer", consumer)
        .register(b.registry);
    this.processed =
        Counter.builder(CourierMetrics.CONSUMER_PROCESSED)
            .description("Events whose effect committed")
            .baseUnit("events")
            .tag("consumer", consumer)
            .register(registry);
    this.dedupeHits =
        Counter.builder(CourierMetrics.CONSUMER_DEDUPE_HITS)
            .description("Deliveries recognised as duplicates by the processed-events ledger")
            .baseUnit("events")
            .tag("consumer", consumer)
            .register(registry);
    this.replaySkipped =
        Counter.builder(CourierMetrics.CONSUMER_REPLAY_SKIPPED)
            .description("Replayed deliveries addressed to another consumer, skipped unhandled")
            .baseUnit("events")
            .tag("consumer", consumer)
            .register(registry);
    this.retries =
        Counter.builder(CourierMetrics.CONSUMER_RETRIES)
            .description("Failed handler attempts scheduled for another attempt")
            .baseUnit("attempts")
            .tag("consumer", consumer)
            .register(registry);
    this.endToEnd =
        Timer.builder(CourierMetrics.END_TO_END_LATENCY)
            .description("Time from an event's creation to its committed effect")
            .tag("consumer", consumer)
            .publishPercentileHistogram()
            .register(registry);
  }

  /**
   * Starts building a processor.
   *
   * @param consumer the consumer's stable name; it is half of the ledger key, so renaming a
   *     consumer makes it process every retained event again
   */
  public static Builder builder(String consumer, DataSource dataSource, EventHandler handler) {
    return new Builder(consumer, dataSource, handler);
  }

  public String consumer() {
    return consumer;
  }

  /**
   * Whether {@code name} is a valid consumer name: 1 to 128 letters, digits, '.', '_' or '-',
   * starting with a letter or digit.
   */
  public static boolean isValidConsumerName(String name) {
    return LedgerIds.isValidConsumerName(name);
  }

  /**
   * The event id under which a consumer's ledger records its delivery of a replay addressed to it:
   * a name-based (version 3) UUID of the replay id and the event id, so each replay of an event is
   * applied once by the consumer it names, whatever the ledger held before, and its redeliveries
   * are duplicates.
   */
  public static UUID replayLedgerId(UUID eventId, String replayId) {
    return LedgerIds.replayLedgerId(eventId, replayId);
  }

  /**
   * The id under which {@code consumer}'s ledger records a delivery of event {@code eventId} with
   * these headers: the replay's ledger id for a replay addressed to that consumer, else the event
   * id.
   */
  public static UUID ledgerId(String consumer, UUID eventId, Map<String, String> headers) {
    return LedgerIds.ledgerId(consumer, eventId, headers);
  }

  /** The id this consumer's ledger records a delivery of {@code event} under. */
  private UUID ledgerId(Event event) {
    return ledgerId(consumer, event.id(), event.headers());
  }

  public RetryPolicy retryPolicy() {
    return retryPolicy;
  }

  /**
   * The most events {@link #processAll} applies in one transaction: {@link
   * Builder#applyInBatches}'s setting, 1 when batches are off.
   */
  public int batchSize() {
    return batchSize;
  }

  /**
   * One delivery of an event, as {@link #processAll} takes it.
   *
   * @param event the event
   * @param attempt which attempt this is, starting at 1 (the transport counts redeliveries)
   * @param source where the record came from, for dead letters and logs
   */
  public record Attempt(Event event, int attempt, String source) {
    public Attempt {
      Objects.requireNonNull(event, "event");
    }
  }

  /**
   * Runs several deliveries, in their order, and returns one outcome per delivery, in the same
   * order; each outcome means what {@link #process}'s does, and has been committed when this
   * returns.
   *
   * <p>With {@link Builder#applyInBatches} on, consecutive deliveries that need nothing of their
   * own are applied together, up to {@link #batchSize()} in one transaction: their ledger rows are
   * inserted in one JDBC batch, the handler is called for each event the ledger did not hold yet,
   * in order, on the same connection (a delivery the ledger held, or that appeared earlier in the
   * batch, is a {@link HandleOutcome.Duplicate}), and the transaction commits once. The others go
   * through {@link #process} one at a time, in their place: a replay addressed to a consumer (this
   * one or another), an event with a key in ordered mode, and a run of one. If the handler throws
   * for an event of a batch, the batch is rolled back and its deliveries go through {@link
   * #process} one at a time.
   *
   * <p>The list is a sequence: once a delivery's outcome is {@link HandleOutcome.RetryLater}, the
   * deliveries after it are not attempted (their effects would otherwise commit before it) and come
   * back as {@code RetryLater} too, with the same delay and error and without counting an attempt
   * ({@code failedAttempts} is their attempt minus one). A dead-lettered delivery does not hold
   * back those after it.
   *
   * @param deliveries the deliveries, in the order their broker delivered them
   * @return one outcome per delivery, in their order
   * @throws CourierException as {@link #process} throws it: when the database failed around the
   *     handler (no connection, the ledger insert or the commit failed) for a batch or a single
   *     delivery, or not even a dead letter could be written. Some deliveries may have been
   *     committed by then; none may be acknowledged on the strength of this call, and all should
   *     be delivered again (the ledger recognises those that committed)
   */
  public List<HandleOutcome> processAll(List<Attempt> deliveries) {
    Objects.requireNonNull(deliveries, "deliveries");
    int n = deliveries.size();
    if (n == 0) {
      return List.of();
    }
    requireRunning();
    HandleOutcome[] outcomes = new HandleOutcome[n];
    HandleOutcome.RetryLater holding = null;
    int from = 0;
    while (from < n) {
      int to = from + 1;
      if (holding == null && batchable(deliveries.get(from).event())) {
        while (to < n && to - from < batchSize && batchable(deliveries.get(to).event())) {
          to++;
        }
      }
      List<Attempt> run = deliveries.subList(from, to);
      if (holding != null) {
        outcomes[from] = heldBack(run.get(0), holding);
      } else if (run.size() > 1) {
        holding = applyBatch(run, outcomes, from);
      } else {
        holding = processEach(run, outcomes, from);
      }
      from = to;
    }
    return List.of(outcomes);
  }

  /**
   * Whether the event may share a transaction with others: not a replay addressed to a consumer
   * (this one's has its own ledger id, another's is not handled), not keyed in ordered mode (its key
   * may be parked behind a dead letter).
   */
  private boolean batchable(Event event) {
    return batchSize > 1
        && !batchCountsUnreported
        && event.headers().get(ReceivedMessage.REPLAY_CONSUMER) == null
        && !(ordered && event.key() != null);
  }

  /**
   * Runs {@code run} through {@link #process} one at a time, writing the outcomes from {@code
   * offset}; returns the first {@code RetryLater}, after which the rest are held back, or null.
   */
  private HandleOutcome.RetryLater processEach(List<Attempt> run, HandleOutcome[] outcomes, int offset) {
    HandleOutcome.RetryLater holding = null;
    for (int i = 0; i < run.size(); i++) {
      Attempt a = run.get(i);
      if (holding != null) {
        outcomes[offset + i] = heldBack(a, holding);
        continue;
      }
      HandleOutcome outcome = process(a.event(), a.attempt(), a.source());
      outcomes[offset + i] = outcome;
      if (outcome instanceof HandleOutcome.RetryLater r) {
        holding = r;
      }
    }
    return holding;
  }

  @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
  private HandleOutcome.RetryLater heldBack(Attempt a, HandleOutcome.RetryLater holding) {
    try (EventLog ignored =
        EventLog.of(a.event()).with(EventLog.CONSUMER, consumer).with(EventLog.ATTEMPT, a.attempt())) {
      log.debug(
          "not attempted: an earlier delivery of the batch waits for a retry in {} ms; the attempt is"
              + " not counted",
          holding.delay().toMillis());
    }
    return new HandleOutcome.RetryLater(holding.delay(), a.attempt() - 1, holding.error());
  }

  /**
   * Applies {@code run} (at least two deliveries, each {@link #batchable}) in one transaction and
   * writes their outcomes from {@code offset}; falls back to {@link #processEach} when the handler
   * throws. Returns what {@code processEach} returns, or null.
   */
  @SuppressWarnings("try") // the EventLog scopes are used for their MDC side effect
  private HandleOutcome.RetryLater applyBatch(List<Attempt> run, HandleOutcome[] outcomes, int offset) {
    boolean[] applied;
    try {
      applied = applyTogether(run);
    } catch (HandlerFailed e) {
      return processEach(run, outcomes, offset);
    } catch (BatchUnsupported e) {
      if (!batchCountsUnreported) {
        batchCountsUnreported = true;
        log.warn("consumer {} applies events one at a time: {}", consumer, e.getMessage());
      }
      return processEach(run, outcomes, offset);
    } catch (DatabaseUnavailableException | TransactionConflictException | StatementFailedException e) {
      log.warn(
          "database failed around the handler of a batch of {} events, none acknowledged: {}",
          run.size(),
          e.getMessage());
      throw e;
    } catch (Exception e) {
      log.warn(
          "a batch of {} events failed outside the handler; its events are processed one at a time: {}",
          run.size(),
          e.toString());
      return processEach(run, outcomes, offset);
    }
    Instant committed = clock.instant();
    for (int i = 0; i < run.size(); i++) {
      Attempt a = run.get(i);
      try (EventLog ignored =
          EventLog.of(a.event()).with(EventLog.CONSUMER, consumer).with(EventLog.ATTEMPT, a.attempt())) {
        if (applied[i]) {
          processed.increment();
          Duration e2e = Duration.between(a.event().createdAt(), committed);
          if (!e2e.isNegative()) {
            endToEnd.record(e2e);
          }
          log.debug("event applied");
          outcomes[offset + i] = new HandleOutcome.Applied();
        } else {
          dedupeHits.increment();
          log.info("duplicate delivery skipped: event already processed by this consumer");
          outcomes[offset + i] = new HandleOutcome.Duplicate();
        }
      }
    }
    return null;
  }

  /**
   * Runs one delivery of {@code event}.
   *
   * @param attempt which attempt this is, starting at 1 (the transport counts redeliveries)
   * @param source where the record came from, for dead letters and logs
   * @return what the transport must do next
   * @throws CourierException when the database failed around the handler (no connection, the
   *     ledger insert or the commit failed: a {@link DatabaseUnavailableException}, {@link
   *     TransactionConflictException} or {@link StatementFailedException}), or when not even a dead
   *     letter could be written: the transport must not acknowledge, and should redeliver later
   *     without counting an attempt
   */
  public HandleOutcome process(Event event, int attempt, String source) {
    Objects.requireNonNull(event, "event");
    requireRunning();
    try (EventLog ignored = EventLog.of(event).with(EventLog.CONSUMER, consumer).with(EventLog.ATTEMPT, attempt)) {
      Instant started = clock.instant();
      String addressedTo = event.headers().get(ReceivedMessage.REPLAY_CONSUMER);
      if (addressedTo != null && !addressedTo.equals(consumer)) {
        replaySkipped.increment();
        log.info(
            "replayed delivery skipped: replay {} is addressed to consumer '{}', not this one",
            Text.printable(String.valueOf(event.headers().get(ReceivedMessage.REPLAY_ID))),
            Text.printable(addressedTo));
        return new HandleOutcome.NotAddressed(addressedTo);
      }
      if (ordered && event.key() != null) {
        HandleOutcome parked = parkIfBlocked(event, attempt, source, started);
        if (parked != null) {
          return parked;
        }
      }
      Throwable failure;
      try {
        UUID ledgerId = ledgerId(event);
        if (applyOnce(event, ledgerId)) {
          processed.increment();
          Duration e2e = Duration.between(event.createdAt(), clock.instant());
          if (!e2e.isNegative()) {
            endToEnd.record(e2e);
          }
          if (!ledgerId.equals(event.id())) {
            log.info(
                "replayed event applied again for replay {}",
                Text.printable(event.headers().get(ReceivedMessage.REPLAY_ID)));
          } else {
            log.debug("event applied");
          }
          return new HandleOutcome.Applied();
        }
        dedupeHits.increment();
        log.info("duplicate delivery skipped: event already processed by this consumer");
        return new HandleOutcome.Duplicate();
      } catch (HandlerFailed e) {
        failure = e.getCause();
      } catch (DatabaseUnavailableException | TransactionConflictException | StatementFailedException e) {
        // Courier's own statements around the handler failed: nothing is wrong with the event
        log.warn("database failed around the handler, delivery not acknowledged: {}", e.getMessage());
        throw e;
      } catch (Exception e) {
        failure = e;
      }
      boolean fatal = failure instanceof FatalCourierException || !retryable.test(failure);
      if (!fatal && retryPolicy.canRetry(attempt)) {
        retries.increment();
        Duration delay = retryPolicy.delay(attempt);
        log.warn(
            "handler attempt {} of {} failed, retrying in {} ms: {}",
            attempt,
            retryPolicy.maxAttempts(),
            delay.toMillis(),
            failure.toString());
        return new HandleOutcome.RetryLater(delay, attempt, failure);
      }
      DeadLetterReason reason = reasonFor(failure, fatal);
      deadLetter(
          new DeadLetter(
              consumer, event.id(), event, source, null, Map.of(), reason, failure, attempt, started, clock.instant()));
      return new HandleOutcome.DeadLettered(reason, failure);
    }
  }

  /**
   * Dead-letters a record that could not be turned into an event (no or invalid event id,
   * undecodable headers, too large). Commits before returning, so the transport may acknowledge.
   *
   * @throws CourierException when the dead letter could not be written; do not acknowledge
   */
  public HandleOutcome.DeadLettered rejectMalformed(
      UUID eventIdOrNull,
      String source,
      byte[] rawPayload,
      Map<String, String> rawHeaders,
      DeadLetterReason reason,
      Throwable error) {
    requireRunning();
    Instant now = clock.instant();
    try (EventLog ignored =
        EventLog.ofUnknown(eventIdOrNull, null).with(EventLog.CONSUMER, consumer).with("source", source)) {
      deadLetter(
          new DeadLetter(consumer, eventIdOrNull, null, source, rawPayload, rawHeaders, reason, error, 1, now, now));
    }
    return new HandleOutcome.DeadLettered(reason, error);
  }

  /**
   * Throws {@link ConsumerPausedException} while the consumer is paused. Reads the pause at most
   * once per {@link #PAUSE_CHECK_INTERVAL}; a failure to read it leaves the last answer (the
   * delivery then meets the database's failure itself), and a schema without the pause table (not
   * migrated to version 4) counts as running, said once in the log.
   */
  private void requireRunning() {
    long now = System.nanoTime();
    if (now - nextPauseCheck >= 0) {
      nextPauseCheck = now + PAUSE_CHECK_INTERVAL.toNanos();
      try (Connection c = dataSource.getConnection()) {
        pause = pauses.pauseOf(c, consumer).orElse(null);
      } catch (SQLException e) {
        if ("42P01".equals(e.getSQLState())) {
          pause = null;
          if (!pauseTableMissingLogged) {
            pauseTableMissingLogged = true;
            log.warn(
                "consumer {} cannot be paused: {} does not exist (run 'courier migrate' to bring the schema"
                    + " to version 4)",
                consumer,
                tables.consumerPauses());
          }
        } else {
          log.debug("could not read whether consumer {} is paused: {}", consumer, e.toString());
        }
      }
    }
    ConsumerPauses.Pause p = pause;
    if (p != null) {
      throw new ConsumerPausedException(consumer, p);
    }
  }

  /** Pauses the consumer when its dead letters within the window reach the threshold. */
  private void countForAutoPause(DeadLetter d) {
    if (autoPauseDeadLetters <= 0 || d.reason() == DeadLetterReason.PARKED) {
      return;
    }
    Instant now = clock.instant();
    int recent;
    synchronized (recentDeadLetters) {
      recentDeadLetters.addLast(now);
      Instant horizon = now.minus(autoPauseWindow);
      while (!recentDeadLetters.isEmpty() && recentDeadLetters.peekFirst().isBefore(horizon)) {
        recentDeadLetters.pollFirst();
      }
      recent = recentDeadLetters.size();
      if (recent < autoPauseDeadLetters) {
        return;
      }
      recentDeadLetters.clear();
    }
    String reason =
        recent + " dead letters within " + autoPauseWindow.toSeconds() + " s (auto-pause at "
            + autoPauseDeadLetters + ")";
    try {
      if (pauses.pause(consumer, new Attribution("courier auto-pause", reason), true)) {
        log.error(
            "consumer {} paused itself: {}; its deliveries wait at the broker until an operator resumes"
                + " it ('courier consumer resume {}')",
            consumer,
            reason,
            consumer);
      }
      nextPauseCheck = System.nanoTime(); // read it back at the next delivery
    } catch (RuntimeException e) {
      log.error("consumer {} could not pause itself after {}: {}", consumer, reason, e.toString());
    }
  }

  private void deadLetter(DeadLetter d) {
    deadLetters.record(d);
    countForAutoPause(d);
    Counter.builder(CourierMetrics.CONSUMER_DEAD_LETTERS)
        .description("Events written to the dead-letter table")
        .baseUnit("events")
        .tag("consumer", consumer)
        .tag("reason", d.reason().name())
        .register(registry)
        .increment();
    log.error(
        "event dead-lettered after {} attempt(s), reason {}: {}",
        d.attempts(),
        d.reason(),
        d.error() == null ? "" : d.error().toString());
  }

  /**
   * In ordered mode: parks the event when an earlier event of its key is dead-lettered or parked
   * (or reports a duplicate when the ledger already holds it); null when the key is clear.
   */
  private HandleOutcome parkIfBlocked(Event event, int attempt, String source, Instant started) {
    String blockedSql =
        "SELECT id FROM "
            + tables.deadLetters()
            + " WHERE consumer = ? AND destination = ? AND event_key = ? AND status IN ('DEAD', 'PARKED')"
            + " AND event_id IS DISTINCT FROM ? ORDER BY id LIMIT 1";
    String ledgerSql =
        "SELECT 1 FROM " + tables.processedEvents() + " WHERE consumer = ? AND event_id = ?";
    long blocking;
    try (Connection c = dataSource.getConnection()) {
      try (PreparedStatement ps = c.prepareStatement(blockedSql)) {
        ps.setString(1, consumer);
        ps.setString(2, event.destination());
        ps.setString(3, event.key());
        ps.setObject(4, event.id());
        try (java.sql.ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return null;
          }
          blocking = rs.getLong(1);
        }
      }
      try (PreparedStatement ps = c.prepareStatement(ledgerSql)) {
        ps.setString(1, consumer);
        ps.setObject(2, ledgerId(event));
        try (java.sql.ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            dedupeHits.increment();
            log.info("duplicate delivery skipped: event already processed by this consumer");
            return new HandleOutcome.Duplicate();
          }
        }
      }
    } catch (SQLException e) {
      throw DatabaseFailures.of(
          "could not check whether the event's key is blocked by a dead letter", event.id(), event.destination(), e);
    }
    ParkedEventException parked = new ParkedEventException(blocking, event.id(), event.destination());
    deadLetters.park(
        new DeadLetter(
            consumer, event.id(), event, source, null, Map.of(), DeadLetterReason.PARKED, parked, attempt,
            started, clock.instant()));
    Counter.builder(CourierMetrics.CONSUMER_DEAD_LETTERS)
        .description("Events written to the dead-letter table")
        .baseUnit("events")
        .tag("consumer", consumer)
        .tag("reason", DeadLetterReason.PARKED.name())
        .register(registry)
        .increment();
    log.warn("event parked behind dead letter {} of its key, not handled", blocking);
    return new HandleOutcome.DeadLettered(DeadLetterReason.PARKED, parked);
  }

  private static DeadLetterReason reasonFor(Throwable failure, boolean fatal) {
    if (failure instanceof UnknownEventTypeException) {
      return DeadLetterReason.UNKNOWN_TYPE;
    }
    if (failure instanceof InvalidEventException) {
      return DeadLetterReason.MALFORMED;
    }
    if (failure instanceof PoisonEventException || fatal) {
      return DeadLetterReason.POISON;
    }
    return DeadLetterReason.HANDLER_FAILED;
  }

  /**
   * Returns true when applied, false when the ledger already held {@code ledgerId} (the event id,
   * or for a replay addressed to this consumer the replay's ledger id). A failure of the database
   * around the handler (no connection, the ledger insert or the commit failing) is thrown as {@link
   * DatabaseFailures} classifies it: it says nothing about the event, so it must not use up the
   * event's attempts. A failure thrown by the handler is thrown wrapped in {@link HandlerFailed},
   * so that it is told apart even when it is one of those types itself (an outbox append in the
   * handler).
   */
  private boolean applyOnce(Event event, UUID ledgerId) throws Exception {
    Connection c;
    try {
      c = dataSource.getConnection();
    } catch (SQLException e) {
      throw failed("could not get a database connection", event, e);
    }
    try (c) {
      int inserted;
      try {
        c.setAutoCommit(false);
        Dialect d = dialect(c);
        try (PreparedStatement ps = c.prepareStatement(d.insertProcessed(tables))) {
          ps.setString(1, consumer);
          ps.setObject(2, ledgerId);
          ps.setTimestamp(3, Timestamp.from(clock.instant()));
          inserted = ps.executeUpdate();
          if (inserted == 1 && !ledgerId.equals(event.id())) {
            // a replay applied again: keep the event's own row, so an ordinary redelivery of it
            // later is still a duplicate (the insert does nothing when the row is there)
            ps.setObject(2, event.id());
            ps.executeUpdate();
          }
        }
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        throw failed("could not record the event in the processed-events ledger", event, e);
      }
      if (inserted == 0) {
        c.rollback();
        return false;
      }
      try {
        handle(event, c);
      } catch (Exception e) {
        rollbackQuietly(c, e);
        throw new HandlerFailed(e);
      }
      try {
        c.commit();
      } catch (SQLException e) {
        // Ambiguous: the commit may have happened. A redelivery finds the ledger row if it did.
        rollbackQuietly(c, e);
        throw failed("the commit of the effect failed or its outcome is unknown", event, e);
      }
      return true;
    }
  }

  /**
   * Applies a batch in one transaction: the ledger rows in one JDBC batch, then the handler for
   * each event whose row was new, in order, then one commit. Returns which events were applied (the
   * others were duplicates). Failures are thrown as {@link #applyOnce} throws them; a driver that
   * does not report each row's update count makes the batch fall back ({@link BatchUnsupported}).
   */
  @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
  private boolean[] applyTogether(List<Attempt> run) throws Exception {
    Event first = run.get(0).event(); // for the destination, which a batch shares
    Connection c;
    try {
      c = dataSource.getConnection();
    } catch (SQLException e) {
      throw failedBatch("could not get a database connection", first, e);
    }
    try (c) {
      boolean[] inserted = new boolean[run.size()];
      boolean any = false;
      try {
        c.setAutoCommit(false);
        Dialect d = dialect(c);
        int[] counts;
        try (PreparedStatement ps = c.prepareStatement(d.insertProcessed(tables))) {
          Timestamp now = Timestamp.from(clock.instant());
          for (Attempt a : run) {
            ps.setString(1, consumer);
            ps.setObject(2, a.event().id());
            ps.setTimestamp(3, now);
            ps.addBatch();
          }
          counts = ps.executeBatch();
        }
        for (int i = 0; i < counts.length; i++) {
          if (counts[i] != 0 && counts[i] != 1) {
            // e.g. pgjdbc's reWriteBatchedInserts, which reports SUCCESS_NO_INFO for every row
            c.rollback();
            throw new BatchUnsupported(counts[i]);
          }
          inserted[i] = counts[i] == 1;
          any |= inserted[i];
        }
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        throw failedBatch(
            "could not record a batch of " + run.size() + " events in the processed-events ledger", first, e);
      }
      if (!any) {
        c.rollback();
        return inserted;
      }
      for (int i = 0; i < run.size(); i++) {
        if (!inserted[i]) {
          continue;
        }
        Attempt a = run.get(i);
        Event event = a.event();
        try (EventLog ignored =
            EventLog.of(event).with(EventLog.CONSUMER, consumer).with(EventLog.ATTEMPT, a.attempt())) {
          try {
            handle(event, c);
          } catch (Exception e) {
            rollbackQuietly(c, e);
            log.info(
                "handler failed in a batch of {} events, which was rolled back; its events are"
                    + " processed one at a time: {}",
                run.size(),
                e.toString());
            throw new HandlerFailed(e);
          }
        }
      }
      try {
        c.commit();
      } catch (SQLException e) {
        // Ambiguous: the commit may have happened. A redelivery finds the ledger rows if it did.
        rollbackQuietly(c, e);
        throw failedBatch(
            "the commit of a batch of " + run.size() + " effects failed or its outcome is unknown", first, e);
      }
      return inserted;
    }
  }

  /** The driver did not report how many rows each entry of the ledger batch inserted. */
  private static final class BatchUnsupported extends Exception {
    private static final long serialVersionUID = 1L;

    BatchUnsupported(int count) {
      super(
          "the JDBC driver reported update count "
              + count
              + " for a batched ledger insert, so duplicates cannot be told apart (is"
              + " reWriteBatchedInserts on?)",
          null,
          false,
          false);
    }
  }

  /**
   * Runs the handler for {@code event} in its consumer span on the transaction's connection, and
   * checks that it left the transaction to Courier.
   */
  private void handle(Event event, Connection c) throws Exception {
    Tracing.inConsumerSpan(
        event,
        consumer,
        () -> {
          handler.handle(event, c);
          return null;
        });
    if (c.isClosed() || c.getAutoCommit()) {
      throw new IllegalStateException(
          "the handler closed the connection or switched it to auto-commit; it must leave"
              + " the transaction to Courier");
    }
  }

  private static CourierException failed(String what, Event event, SQLException e) {
    return DatabaseFailures.of(what, event.id(), event.destination(), e);
  }

  /** As {@link #failed}, about a batch: no one event's id. */
  private static CourierException failedBatch(String what, Event first, SQLException e) {
    return DatabaseFailures.of(what, null, first.destination(), e);
  }

  /** Carries what the handler threw past the catch of the database's own failures. */
  private static final class HandlerFailed extends Exception {
    private static final long serialVersionUID = 1L;

    HandlerFailed(Exception cause) {
      super(null, cause, false, false);
    }
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      if (!c.isClosed() && !c.getAutoCommit()) {
        c.rollback();
      }
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  private Dialect dialect(Connection c) {
    Dialect d = dialect;
    if (d == null) {
      d = Dialect.detect(c);
      dialect = d;
    }
    return d;
  }

  /** Builds an {@link IdempotentProcessor}; settings are checked at {@link #build()}. */
  public static final class Builder {
    private final String consumer;
    private final DataSource dataSource;
    private final EventHandler handler;
    private CourierTables tables = CourierTables.DEFAULT;
    private RetryPolicy retryPolicy =
        RetryPolicy.builder()
            .maxAttempts(5)
            .initialDelay(Duration.ofMillis(200))
            .maxDelay(Duration.ofSeconds(10))
            .build();
    private Clock clock = Clock.systemUTC();
    private Predicate<Throwable> retryable = t -> true;
    private MeterRegistry registry = new SimpleMeterRegistry();
    private boolean ordered;
    private int batchSize = 1;
    private int autoPauseDeadLetters;
    private Duration autoPauseWindow = Duration.ZERO;

    private Builder(String consumer, DataSource dataSource, EventHandler handler) {
      this.consumer = consumer;
      this.dataSource = dataSource;
      this.handler = handler;
    }

    public Builder tables(CourierTables tables) {
      this.tables = Objects.requireNonNull(tables, "tables");
      return this;
    }

    /** Retries of failing handlers (default: 5 attempts, 200 ms doubling to 10 s, full jitter). */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Classifies handler failures: false means retrying cannot help and the event is
     * dead-lettered at once. {@link FatalCourierException}s are never retried. Default: retry
     * everything else.
     */
    public Builder retryable(Predicate<Throwable> retryable) {
      this.retryable = Objects.requireNonNull(retryable, "retryable");
      return this;
    }

    /**
     * Ordered mode (default off): once an event of a key is dead-lettered, later events of the key
     * are parked behind it until it is replayed, which releases them in order. Use it when the
     * transport delivers a key's events in order (Kafka partitions); see the class comment.
     */
    public Builder orderedByKey(boolean ordered) {
      this.ordered = ordered;
      return this;
    }

    /**
     * Lets {@link IdempotentProcessor#processAll} apply up to {@code maxEvents} received events in
     * one database transaction (default 1: every event in a transaction of its own). A consumer
     * then pays one commit per batch instead of one per event, which is most of what the ledger
     * costs when the effect is a small write. Transports that hand over several deliveries at once
     * use it (the Kafka consumer, per partition and poll); the others process one at a time.
     *
     * <p>The handler must tolerate being rolled back and called again for an event whose effect
     * it already wrote: when it throws for one event of a batch, the database work it did for the
     * others is rolled back with it and they are handled again one at a time. That is already
     * true of retries; effects outside the database must be idempotent in any case.
     *
     * @param maxEvents from 1 to 1,000
     */
    public Builder applyInBatches(int maxEvents) {
      if (maxEvents < 1 || maxEvents > 1000) {
        throw new ConfigurationException(
            "applyInBatches.maxEvents", "must be from 1 to 1000, was " + maxEvents);
      }
      this.batchSize = maxEvents;
      return this;
    }

    /**
     * Pauses the consumer ({@link ConsumerPauses}) when this processor writes {@code deadLetters}
     * dead letters within {@code window} (events parked behind an earlier dead letter of their key
     * do not count): a burst of dead letters usually means a bad deployment or a broken dependency,
     * and dead-lettering the rest of the stream would only make more replay work. The pause is
     * audited as {@code consumer.auto-pause}; an operator resumes it. Off by default.
     *
     * @param deadLetters at least 1
     * @param window from 1 s to 1 day
     */
    public Builder autoPause(int deadLetters, Duration window) {
      Objects.requireNonNull(window, "window");
      if (deadLetters < 1) {
        throw new ConfigurationException("autoPause.deadLetters", "must be at least 1, was " + deadLetters);
      }
      if (window.compareTo(Duration.ofSeconds(1)) < 0 || window.compareTo(Duration.ofDays(1)) > 0) {
        throw new ConfigurationException("autoPause.window", "must be from 1s to 1d, was " + window);
      }
      this.autoPauseDeadLetters = deadLetters;
      this.autoPauseWindow = window;
      return this;
    }

    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    public IdempotentProcessor build() {
      if (!LedgerIds.isValidConsumerName(consumer)) {
        throw new ConfigurationException(
            "consumer",
            "'"
                + consumer
                + "' is not a valid consumer name: 1 to 128 letters, digits, '.', '_' or '-',"
                + " starting with a letter or digit");
      }
      Objects.requireNonNull(dataSource, "dataSource");
      Objects.requireNonNull(handler, "handler");
      return new IdempotentProcessor(this);
    }
  }
}
