package dev.courier.inbox;

import dev.courier.Event;
import dev.courier.internal.EventLog;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.SubscriptionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens to a delivery once a transport has received and decoded it, the same on every
 * broker: the {@link IdempotentProcessor} decides its outcome in the database (ledger check,
 * handler and ledger row in one transaction, or a dead letter); after that commit the subscription's
 * after-commit hook runs; then the delivery is settled with the broker through the transport's
 * {@link Acknowledger}. A transport supplies only its decoding, its attempt count and its
 * acknowledger; the retry, dead-letter and outage decisions are made here.
 *
 * <p><b>Outcomes.</b> Applied, duplicate and not-addressed deliveries are {@link
 * Acknowledger#acknowledge() acknowledged}; dead-lettered ones are {@link Acknowledger#terminate()
 * terminated} (the broker must not deliver them again); a retry the processor asks for is {@link
 * Acknowledger#redeliver redelivered} after its delay. Nothing is acknowledged before the outcome
 * committed, and nothing at all once the subscription crashed.
 *
 * <p><b>Database outages.</b> If the processor throws, it could not record even a failure (the
 * database is unreachable, the transaction's outcome is unknown): the delivery is redelivered after
 * {@link #OUTAGE_BACKOFF} (200 ms doubling to 30 s, counted over consecutive failures of this
 * pipeline, whatever the event) without using up one of the event's attempts, so an outage never
 * dead-letters an event. Where the broker will not deliver the message again ({@link
 * Acknowledger#redeliverable()} false: an auto-acknowledged RabbitMQ queue, the last delivery a
 * JetStream consumer allows) the pipeline holds it and tries again in place until it is recorded or
 * the subscription stops.
 *
 * <p><b>After-commit hook.</b> {@link SubscriptionSpec#afterCommit()} runs for every final outcome
 * of a well-formed event (applied, duplicate, not addressed, dead-lettered), after its commit and
 * before its acknowledgement. A hook that throws anything, {@link SubscriptionSpec.SimulatedCrash}
 * or not, crashes the subscription there without acknowledging, as a process killed at that point
 * would; the broker delivers the event again and the ledger recognises it.
 *
 * <p><b>Several deliveries at once.</b> A transport that receives deliveries in runs (a Kafka poll)
 * may hand a run to {@link #deliverAll}; with a processor that {@linkplain
 * IdempotentProcessor.Builder#applyInBatches applies batches} their events share one database
 * transaction, and each delivery is then settled, in order, as {@link #deliver} settles it.
 *
 * <p>Not thread-safe for one delivery: a transport calls {@link #deliver} from its consuming thread.
 * Deliveries of different partitions may be run from different threads.
 */
public final class DeliveryPipeline {
  private static final Logger log = LoggerFactory.getLogger(DeliveryPipeline.class);

  /** The backoff after the processor throws: 200 ms doubling to 30 s, no jitter. */
  public static final RetryPolicy OUTAGE_BACKOFF =
      RetryPolicy.builder()
          .maxAttempts(Integer.MAX_VALUE)
          .initialDelay(Duration.ofMillis(200))
          .maxDelay(Duration.ofSeconds(30))
          .multiplier(2)
          .jitter(false)
          .build();

  private final IdempotentProcessor processor;
  private final SubscriptionSpec spec;
  private final SubscriptionLifecycle lifecycle;
  private final Consumer<Throwable> crash;
  private final AtomicInteger outages = new AtomicInteger();

  /**
   * @param processor decides each delivery's outcome
   * @param spec the subscription's destination and after-commit hook
   * @param lifecycle the subscription's lifecycle, read to know whether to acknowledge and to wait
   * @param crash the subscription's own crash, called when the after-commit hook throws; it must
   *     stop consuming without acknowledging anything more
   */
  public DeliveryPipeline(
      IdempotentProcessor processor,
      SubscriptionSpec spec,
      SubscriptionLifecycle lifecycle,
      Consumer<Throwable> crash) {
    this.processor = Objects.requireNonNull(processor, "processor");
    this.spec = Objects.requireNonNull(spec, "spec");
    this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
    this.crash = Objects.requireNonNull(crash, "crash");
  }

  /** The consumer's name, its processor's. */
  public String consumer() {
    return processor.consumer();
  }

  public IdempotentProcessor processor() {
    return processor;
  }

  /**
   * How a transport settles one delivery with its broker. One instance per delivery; called from
   * the thread that called {@link #deliver}.
   */
  public interface Acknowledger {

    /** The outcome is committed: the broker may forget the delivery. */
    void acknowledge();

    /**
     * The event was dead-lettered: the broker may forget it and must not deliver it again. By
     * default the same as {@link #acknowledge()}.
     */
    default void terminate() {
      acknowledge();
    }

    /**
     * Nothing is acknowledged: the broker should deliver the message again after {@code
     * redelivery.delay()} (a negative acknowledgement with a delay, a paused and rewound partition,
     * a message held and then returned).
     */
    void redeliver(Redelivery redelivery);

    /**
     * Whether the broker delivers this message again if it is not acknowledged. When it will not
     * (auto-acknowledged queues, the last delivery the broker allows), the pipeline retries in
     * place instead of calling {@link #redeliver}. By default true.
     */
    default boolean redeliverable() {
      return true;
    }
  }

  /**
   * A delivery to be made again.
   *
   * @param delay how long to wait before it
   * @param failedAttempts the event's attempts that failed so far; the next delivery is attempt
   *     {@code failedAttempts + 1}
   * @param outage true when the processor could not record anything (the attempt does not count:
   *     {@code failedAttempts} is unchanged), false when it asked for a retry
   */
  public record Redelivery(Duration delay, int failedAttempts, boolean outage) {}

  /**
   * One delivery handed to {@link #deliverAll}, with what {@link #deliver} takes.
   *
   * @param decoded the message as the transport decoded it
   * @param attempt which attempt this is, as the transport counts it (at least 1)
   * @param source where it came from, for the dead letter and the log ({@code topic-0@42})
   * @param acknowledger how to settle it with the broker
   */
  public record Delivery(Decoded decoded, int attempt, String source, Acknowledger acknowledger) {
    public Delivery {
      Objects.requireNonNull(decoded, "decoded");
      Objects.requireNonNull(acknowledger, "acknowledger");
    }
  }

  /** How a delivery ended, for the transport's own bookkeeping. */
  public enum Settlement {
    /** Acknowledged after its outcome (applied, duplicate, not addressed) committed. */
    ACKNOWLEDGED,
    /** Dead-lettered and terminated. */
    TERMINATED,
    /** Handed back for a redelivery. */
    REDELIVERING,
    /**
     * Left unacknowledged because the subscription stopped or crashed meanwhile; the broker
     * delivers it again to the next consumer.
     */
    ABANDONED
  }

  /**
   * Runs one delivery to its settlement.
   *
   * @param decoded the message as the transport decoded it
   * @param attempt which attempt this is, as the transport counts it (at least 1)
   * @param source where it came from, for the dead letter and the log ({@code topic-0@42})
   * @param acknowledger how to settle it with the broker
   */
  @SuppressWarnings("try") // the EventLog scopes are used for their MDC side effect
  public Settlement deliver(Decoded decoded, int attempt, String source, Acknowledger acknowledger) {
    int current = Math.max(1, attempt);
    while (true) {
      HandleOutcome outcome;
      try {
        outcome =
            switch (decoded) {
              case Decodable d -> processor.process(d.event(), current, source);
              case Undecodable u ->
                  processor.rejectMalformed(
                      u.eventId(), source, u.rawPayload(), u.rawHeaders(), u.reason(), u.error());
            };
      } catch (RuntimeException e) {
        Duration delay = OUTAGE_BACKOFF.delay(outages.incrementAndGet());
        boolean redeliverable = acknowledger.redeliverable();
        try (EventLog ignored = scope(decoded, current, source)) {
          log.error(
              "could not process the delivery nor record its failure (is the database reachable?);"
                  + " {} in {} ms without using up an attempt: {}",
              redeliverable ? "it stays unacknowledged and is delivered again" : "trying again",
              delay.toMillis(),
              e.toString());
        }
        if (redeliverable) {
          if (!lifecycle.mayAcknowledge()) {
            return Settlement.ABANDONED;
          }
          acknowledger.redeliver(new Redelivery(delay, current - 1, true));
          return Settlement.REDELIVERING;
        }
        if (!lifecycle.await(delay)) {
          return abandonHeld(decoded, current, source);
        }
        continue;
      }
      outages.set(0);
      if (!lifecycle.mayAcknowledge()) {
        return Settlement.ABANDONED; // crashed meanwhile: a killed process acknowledges nothing
      }
      if (outcome instanceof HandleOutcome.RetryLater r) {
        if (acknowledger.redeliverable()) {
          acknowledger.redeliver(new Redelivery(r.delay(), r.failedAttempts(), false));
          return Settlement.REDELIVERING;
        }
        if (!lifecycle.await(r.delay())) {
          return abandonHeld(decoded, current, source);
        }
        current = r.failedAttempts() + 1;
        continue;
      }
      return settleFinal(decoded, current, source, acknowledger, outcome);
    }
  }

  /**
   * Runs several deliveries to their settlements and returns one settlement per delivery, in their
   * order.
   *
   * <p>When the processor {@linkplain IdempotentProcessor#batchSize() applies batches}, the
   * well-formed events go through {@link IdempotentProcessor#processAll} together (one transaction
   * for each run of them that needs nothing of its own; see there), and then each delivery, in
   * order, runs the after-commit hook and is settled exactly as {@link #deliver} settles it; an
   * undecodable one is dead-lettered through {@link #deliver} in its place. Without batches, each
   * delivery goes through {@link #deliver} in turn.
   *
   * <p>Once a delivery is {@link Settlement#ABANDONED abandoned} (a hook that throws crashes the
   * subscription there; the subscription crashed or stopped meanwhile), every delivery after it is
   * abandoned too, untouched and unacknowledged, although its outcome may have committed: the broker
   * delivers it again and the ledger recognises it.
   *
   * <p>If the processor throws (it could not record the batch's outcome: the database failed, the
   * consumer is paused), every delivery goes through {@link #deliver} one at a time, which applies
   * the outage handling. Once one of them has been handed back for an outage, those after it whose
   * broker delivers them again are handed back for the same backoff without trying the database
   * again (each try could wait for a connection timeout).
   *
   * <p>Each delivery is settled on its own. A transport whose acknowledgement is cumulative (a
   * Kafka offset acknowledges every record before it) must ignore the settlements that follow one it
   * was asked to redeliver; the processor does not apply the events after an event that waits for a
   * retry (it hands them back too), so nothing after it is lost or applied out of order.
   *
   * @param deliveries the deliveries, in the order the broker delivered them
   */
  public List<Settlement> deliverAll(List<Delivery> deliveries) {
    Objects.requireNonNull(deliveries, "deliveries");
    List<IdempotentProcessor.Attempt> attempts = new ArrayList<>(deliveries.size());
    for (Delivery d : deliveries) {
      if (d.decoded() instanceof Decodable e) {
        attempts.add(new IdempotentProcessor.Attempt(e.event(), Math.max(1, d.attempt()), d.source()));
      }
    }
    if (processor.batchSize() < 2 || attempts.size() < 2) {
      return oneAtATime(deliveries);
    }
    List<HandleOutcome> outcomes;
    try {
      outcomes = processor.processAll(attempts);
    } catch (RuntimeException e) {
      // the exception may name one event; deliver logs each delivery's failure in its own scope
      log.info(
          "could not process {} deliveries together ({}), delivering each on its own",
          deliveries.size(),
          e.getClass().getSimpleName());
      return oneAtATime(deliveries);
    }
    outages.set(0);
    List<Settlement> settled = new ArrayList<>(deliveries.size());
    int next = 0;
    for (Delivery d : deliveries) {
      HandleOutcome outcome = d.decoded() instanceof Decodable ? outcomes.get(next++) : null;
      if (abandoned(settled)) {
        settled.add(Settlement.ABANDONED); // crashed: a killed process acknowledges nothing more
      } else if (outcome == null) {
        settled.add(deliver(d.decoded(), d.attempt(), d.source(), d.acknowledger()));
      } else {
        settled.add(settle(d, outcome));
      }
    }
    return settled;
  }

  /**
   * Whether the deliveries after {@code settled} are to be left alone: the subscription crashed or
   * stopped while one of them was in hand.
   */
  private boolean abandoned(List<Settlement> settled) {
    return !lifecycle.mayAcknowledge()
        || (!settled.isEmpty() && settled.getLast() == Settlement.ABANDONED);
  }

  /** Settles one delivery of {@link #deliverAll} whose outcome the processor returned. */
  private Settlement settle(Delivery d, HandleOutcome outcome) {
    int attempt = Math.max(1, d.attempt());
    Acknowledger acknowledger = d.acknowledger();
    if (outcome instanceof HandleOutcome.RetryLater r) {
      if (acknowledger.redeliverable()) {
        acknowledger.redeliver(new Redelivery(r.delay(), r.failedAttempts(), false));
        return Settlement.REDELIVERING;
      }
      if (!lifecycle.await(r.delay())) {
        return abandonHeld(d.decoded(), attempt, d.source());
      }
      return deliver(d.decoded(), r.failedAttempts() + 1, d.source(), acknowledger);
    }
    return settleFinal(d.decoded(), attempt, d.source(), acknowledger, outcome);
  }

  /**
   * Each delivery through {@link #deliver}; after an outage, the redeliverable ones that follow are
   * handed back for the same backoff without trying again.
   */
  private List<Settlement> oneAtATime(List<Delivery> deliveries) {
    List<Settlement> settled = new ArrayList<>(deliveries.size());
    Redelivery outage = null;
    int handedBack = 0;
    for (Delivery d : deliveries) {
      if (abandoned(settled)) {
        settled.add(Settlement.ABANDONED);
      } else if (outage != null && d.acknowledger().redeliverable()) {
        d.acknowledger().redeliver(new Redelivery(outage.delay(), Math.max(1, d.attempt()) - 1, true));
        settled.add(Settlement.REDELIVERING);
        handedBack++;
      } else {
        OutageWatch watch = new OutageWatch(d.acknowledger());
        settled.add(deliver(d.decoded(), d.attempt(), d.source(), watch));
        if (watch.outage != null) {
          outage = watch.outage;
        }
      }
    }
    if (handedBack > 0) {
      log.warn(
          "{} more deliveries handed back for the same backoff of {} ms without trying the database",
          handedBack,
          outage.delay().toMillis());
    }
    return settled;
  }

  /** Passes settlements through, remembering a redelivery for an outage. */
  private static final class OutageWatch implements Acknowledger {
    private final Acknowledger delegate;
    private Redelivery outage;

    OutageWatch(Acknowledger delegate) {
      this.delegate = delegate;
    }

    @Override
    public void acknowledge() {
      delegate.acknowledge();
    }

    @Override
    public void terminate() {
      delegate.terminate();
    }

    @Override
    public void redeliver(Redelivery redelivery) {
      if (redelivery.outage()) {
        outage = redelivery;
      }
      delegate.redeliver(redelivery);
    }

    @Override
    public boolean redeliverable() {
      return delegate.redeliverable();
    }
  }

  /** Runs the hook for a final outcome, then acknowledges or terminates. */
  private Settlement settleFinal(
      Decoded decoded, int attempt, String source, Acknowledger acknowledger, HandleOutcome outcome) {
    if (!afterCommit(decoded, attempt, source)) {
      return Settlement.ABANDONED;
    }
    if (outcome instanceof HandleOutcome.DeadLettered) {
      acknowledger.terminate();
      return Settlement.TERMINATED;
    }
    acknowledger.acknowledge();
    return Settlement.ACKNOWLEDGED;
  }

  /** Runs the after-commit hook; false when it threw and the subscription crashed. */
  @SuppressWarnings("try")
  private boolean afterCommit(Decoded decoded, int attempt, String source) {
    if (!(decoded instanceof Decodable d)) {
      return true;
    }
    Event event = d.event();
    try {
      spec.afterCommit().afterCommit(event);
    } catch (RuntimeException | Error t) {
      try (EventLog ignored = scope(decoded, attempt, source)) {
        log.error(
            "subscription of consumer {} stopped by its after-commit hook, after the outcome"
                + " committed and before the acknowledgement; the event will be delivered again and"
                + " recognised as a duplicate: {}",
            processor.consumer(),
            t.toString());
      }
      crash.accept(t);
      return false;
    }
    return lifecycle.mayAcknowledge();
  }

  @SuppressWarnings("try")
  private Settlement abandonHeld(Decoded decoded, int attempt, String source) {
    try (EventLog ignored = scope(decoded, attempt, source)) {
      log.error(
          "subscription stopped while holding a delivery the broker will not make again and whose"
              + " outcome was never recorded: replay {} from the broker",
          source);
    }
    return Settlement.ABANDONED;
  }

  private EventLog scope(Decoded decoded, int attempt, String source) {
    EventLog scope =
        switch (decoded) {
          case Decodable d -> EventLog.of(d.event()).with(EventLog.ATTEMPT, attempt);
          case Undecodable u -> EventLog.ofUnknown(u.eventId(), spec.destination());
        };
    return scope.with(EventLog.CONSUMER, processor.consumer()).with("source", source);
  }
}
