package dev.courier.deadletter;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;

/**
 * How much one dead-letter queue grew within a {@link DeadLetterMonitor}'s window.
 *
 * @param queue which kind of queue
 * @param name the consumer's name for {@link Queue#CONSUMER}, the outbox table for {@link
 *     Queue#OUTBOX}
 * @param before parked at {@code since}
 * @param now parked at {@code at}
 * @param since the start of the span compared: the window's start, or the monitor's first count
 *     while it has not run for a whole window
 * @param at when {@code now} was counted
 * @param threshold the growth within the window that the monitor tolerates; more raises an alert
 */
public record DeadLetterGrowth(
    Queue queue, String name, long before, long now, Instant since, Instant at, long threshold) {

  /** Where dead letters are parked. */
  public enum Queue {
    /** A consumer's dead letters (the dead-letter table, status {@code DEAD}). */
    CONSUMER,
    /** Outbox rows the relay parked as {@code DEAD}. */
    OUTBOX
  }

  public DeadLetterGrowth {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(since, "since");
    Objects.requireNonNull(at, "at");
  }

  /** Dead letters added within the span (negative when an operator removed more than arrived). */
  public long grownBy() {
    return now - before;
  }

  /** Whether the growth is above the threshold. */
  public boolean exceedsThreshold() {
    return grownBy() > threshold;
  }

  /** The span compared. */
  public Duration span() {
    return Duration.between(since, at);
  }

  /** The queue as people name it: {@code consumer billing}, {@code outbox courier_outbox}. */
  public String queueName() {
    return queue.name().toLowerCase(Locale.ROOT) + " " + name;
  }

  /** One sentence with the counts, for logs and health reports. */
  public String describe() {
    return String.format(
        Locale.ROOT,
        "%s: %d dead letter%s parked, %+d in the last %ds (more than %d raises an alert)",
        queueName(),
        now,
        now == 1 ? "" : "s",
        grownBy(),
        span().toSeconds(),
        threshold);
  }
}
