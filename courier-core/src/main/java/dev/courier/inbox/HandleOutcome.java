package dev.courier.inbox;

import dev.courier.deadletter.DeadLetterReason;
import java.time.Duration;

/**
 * What became of one delivery of an event. A transport acknowledges the delivery for {@link
 * Applied}, {@link Duplicate} and {@link DeadLettered} (each is durably recorded in the database
 * before the outcome is returned) and for {@link NotAddressed} (nothing to record), and redelivers
 * it after {@link RetryLater#delay()} otherwise.
 */
public sealed interface HandleOutcome {

  /** Whether the broker may now forget the delivery. */
  default boolean acknowledge() {
    return !(this instanceof RetryLater);
  }

  /** The handler ran and its effect committed together with the ledger row. */
  record Applied() implements HandleOutcome {}

  /** The ledger already held the event: nothing was applied again (a dedupe hit). */
  record Duplicate() implements HandleOutcome {}

  /**
   * The delivery is a replay addressed to another consumer ({@code courier-replay-consumer}): this
   * consumer neither called its handler nor wrote a ledger row, and the transport acknowledges it.
   *
   * @param consumer the consumer the replay is addressed to
   */
  record NotAddressed(String consumer) implements HandleOutcome {}

  /** The attempt failed and nothing was committed; try again after {@code delay}. */
  record RetryLater(Duration delay, int failedAttempts, Throwable error) implements HandleOutcome {}

  /** The event was written to the dead-letter table and will not be retried automatically. */
  record DeadLettered(DeadLetterReason reason, Throwable error) implements HandleOutcome {}
}
