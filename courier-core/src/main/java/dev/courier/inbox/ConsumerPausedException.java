package dev.courier.inbox;

import dev.courier.RetriableCourierException;

/**
 * A delivery refused because its consumer is paused ({@link ConsumerPauses}): nothing was processed
 * or written, and the transport must neither acknowledge it nor count an attempt, as for a database
 * outage. It goes away when an operator resumes the consumer.
 */
public final class ConsumerPausedException extends RetriableCourierException {
  private static final long serialVersionUID = 1L;

  private final String consumer;

  public ConsumerPausedException(String consumer, ConsumerPauses.Pause pause) {
    super(
        "consumer "
            + consumer
            + " is paused (since "
            + pause.pausedAt()
            + ", by "
            + pause.pausedBy()
            + (pause.reason() == null ? "" : ": " + pause.reason())
            + "); its deliveries wait at the broker until 'courier consumer resume "
            + consumer
            + "'",
        null);
    this.consumer = consumer;
  }

  /** The paused consumer's name. */
  public String consumer() {
    return consumer;
  }
}
