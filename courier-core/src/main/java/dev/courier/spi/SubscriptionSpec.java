package dev.courier.spi;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * What to consume and how: the destination to read from and the hooks a test or demo may use.
 * The consumer's name (the processor's) is the durable identity on the broker: the Kafka group
 * id, the RabbitMQ queue, the JetStream durable consumer.
 *
 * @param destination the topic, exchange or subject that events were published to
 * @param maxRecordBytes records larger than this are dead-lettered as OVERSIZED without parsing
 * @param pollTimeout how long one broker poll or fetch may block
 * @param afterCommit called after each final outcome of a well-formed event (applied, duplicate,
 *     not addressed, dead-lettered) is committed and before it is acknowledged; a hook that throws
 *     anything ({@link SimulatedCrash} for a deliberate fault) makes the subscription crash there
 *     without acknowledging, as a process killed at that point would
 * @param options transport-specific settings (documented by each transport)
 */
public record SubscriptionSpec(
    String destination,
    int maxRecordBytes,
    Duration pollTimeout,
    AfterCommitHook afterCommit,
    Map<String, String> options) {

  public SubscriptionSpec {
    if (destination == null || destination.isBlank()) {
      throw new ConfigurationException("destination", "a destination to consume is required");
    }
    if (maxRecordBytes < 1) {
      throw new ConfigurationException("maxRecordBytes", "must be at least 1, was " + maxRecordBytes);
    }
    if (pollTimeout == null || pollTimeout.isNegative() || pollTimeout.isZero()) {
      throw new ConfigurationException("pollTimeout", "must be positive, was " + pollTimeout);
    }
    afterCommit = afterCommit == null ? AfterCommitHook.NONE : afterCommit;
    options = options == null ? Map.of() : Map.copyOf(options);
  }

  /** A spec with defaults: 1 MiB records, 200 ms polls, no hook, no options. */
  public static SubscriptionSpec of(String destination) {
    return new SubscriptionSpec(destination, 1024 * 1024, Duration.ofMillis(200), AfterCommitHook.NONE, Map.of());
  }

  public SubscriptionSpec withAfterCommit(AfterCommitHook hook) {
    return new SubscriptionSpec(destination, maxRecordBytes, pollTimeout, hook, options);
  }

  public SubscriptionSpec withOption(String key, String value) {
    var m = new java.util.HashMap<>(options);
    m.put(Objects.requireNonNull(key), Objects.requireNonNull(value));
    return new SubscriptionSpec(destination, maxRecordBytes, pollTimeout, afterCommit, m);
  }

  public SubscriptionSpec withMaxRecordBytes(int maxRecordBytes) {
    return new SubscriptionSpec(destination, maxRecordBytes, pollTimeout, afterCommit, options);
  }

  /**
   * Runs between the database commit and the broker acknowledgement, for every final outcome of a
   * well-formed event; for fault injection and for tests that observe that moment.
   */
  @FunctionalInterface
  public interface AfterCommitHook {
    AfterCommitHook NONE = event -> {};

    /**
     * @param event the event whose outcome just committed
     * @throws SimulatedCrash to stop the subscription without acknowledging
     */
    void afterCommit(Event event);
  }

  /** Thrown by an {@link AfterCommitHook} to simulate a process dying before its ack. */
  public static final class SimulatedCrash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SimulatedCrash(String message) {
      super(message, null, false, false);
    }
  }
}
