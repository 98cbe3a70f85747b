package dev.courier.spi;

import dev.courier.Event;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * A broker adapter: publishes events with confirmation, and subscribes with acknowledgement after
 * the database commit. Publishes events to a broker and reports, for each one, whether the broker confirmed it.
 *
 * <p>The contract the relay depends on: a {@link PublishResult.Confirmed} result means the broker
 * has durably accepted the event by its own definition (Kafka {@code acks=all}, a RabbitMQ
 * publisher confirm for a routed message, a JetStream PubAck). Anything less is a {@link
 * PublishResult.Failed}; the relay then retries the event later, so a transport must never report
 * success it has not received. A transport may deliver an event more than once (a confirmation
 * lost on the way back is indistinguishable from a failed publish); consumers deduplicate.
 *
 * <p>Implementations are thread-safe. {@link #publish} blocks until every event in the batch has a
 * result or the timeout passes; events without a result by then are reported as retriable
 * failures.
 */
public interface Transport extends AutoCloseable {

  /** A short lowercase name used in metrics and logs, for example {@code kafka}. */
  String name();

  /**
   * Publishes a batch and waits for the broker's confirmation of each event.
   *
   * @param batch the events, in the order they should reach the broker; events with the same key
   *     keep that order on the wire
   * @param timeout how long to wait for all confirmations
   * @return one result per event, in the batch's order
   * @throws IllegalStateException if the transport is closed
   */
  List<PublishResult> publish(List<Event> batch, Duration timeout);

  /**
   * Starts consuming {@code spec.destination()} as the processor's consumer: each delivery runs
   * through {@code processor}, and is acknowledged to the broker only after the processor's outcome
   * (effect applied, duplicate recognised, or dead letter written) is committed. Deliveries whose
   * outcome is a retry are redelivered after the backoff. Malformed and oversized records are
   * dead-lettered, never allowed to stop the subscription.
   *
   * @throws dev.courier.ConfigurationException if the spec is unusable for this transport
   */
  default Subscription subscribe(SubscriptionSpec spec, dev.courier.inbox.IdempotentProcessor processor) {
    throw new UnsupportedOperationException(name() + " does not support subscriptions yet");
  }

  /**
   * Checks, when a relay starts, that the broker's own deduplication covers the relay's retries.
   * A broker that drops a republished message only within a window (JetStream's {@code
   * Nats-Msg-Id} duplicate window) stores an event twice when the relay republishes it after the
   * window; a transport of such a broker refuses a window shorter than {@code retryHorizon} for
   * each of {@code destinations}, and holds every destination it meets later to the same horizon.
   * Transports without such a window have nothing to check (the default).
   *
   * @param retryHorizon the longest time from an event's first publish to its last attempt
   * @param destinations the destinations the relay knows at start
   * @throws dev.courier.UnsafeConfigurationException if a destination's window is shorter
   * @throws dev.courier.ConfigurationException if a destination cannot be used at all
   */
  default void checkRetryHorizon(Duration retryHorizon, Set<String> destinations) {}

  /** Releases the broker connection. Unconfirmed events stay in the outbox and are retried. */
  @Override
  default void close() {}
}
