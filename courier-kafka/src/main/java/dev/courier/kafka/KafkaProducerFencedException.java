package dev.courier.kafka;

import dev.courier.FatalCourierException;

/**
 * A transactional producer was fenced: another producer initialised transactions with the same
 * {@code transactional.id}, so the broker refuses everything this one sends. The instance that
 * holds the fenced producer is a zombie (it was presumed dead, for example after a long pause, and
 * was replaced) and can publish nothing more; retrying through it cannot succeed, which is why this
 * exception is fatal.
 *
 * <p>The events it did not get committed are not lost: for a relay they stay in the outbox and the
 * live relay publishes them; for a {@link KafkaTransactionalProcessor} their input offsets were not
 * committed and the live instance consumes them again. Nothing the zombie sent in its open
 * transaction becomes visible to {@code read_committed} consumers.
 */
public class KafkaProducerFencedException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  private final String transactionalId;

  /**
   * @param role what holds the producer, for the message ({@code relay}, {@code processor})
   * @param transactionalId the id that a newer producer took over
   * @param cause Kafka's {@code ProducerFencedException} or {@code InvalidProducerEpochException}
   */
  public KafkaProducerFencedException(String role, String transactionalId, Throwable cause) {
    super(
        "fenced by a newer "
            + role
            + " with transactional.id "
            + transactionalId
            + ": another producer initialised transactions with this id, so this "
            + role
            + " is a zombie and can commit nothing more; stop it (a new instance must be built to"
            + " take over, and only once the other one is gone)",
        cause);
    this.transactionalId = transactionalId;
  }

  /** The {@code transactional.id} that a newer producer took over. */
  public String transactionalId() {
    return transactionalId;
  }
}
