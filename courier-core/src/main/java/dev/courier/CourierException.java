package dev.courier;

import java.util.UUID;

/**
 * Root of every exception Courier throws. It is unchecked, and it has two branches:
 * {@link RetriableCourierException} (trying again later may succeed) and {@link
 * FatalCourierException} (trying again cannot succeed: the input or the configuration is wrong).
 * A failure of the database is a {@link DatabaseUnavailableException} or a {@link
 * TransactionConflictException}, both retriable, or a {@link StatementFailedException}, which sits
 * on neither branch because whether it lasts depends on the deployment, not on the event.
 *
 * <p>When the failure concerns one event, the exception carries the event id and the destination
 * and puts them in its message, so a log line is enough to find the event. Payloads and secrets
 * are never part of the message.
 */
public class CourierException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final UUID eventId;
  private final String destination;

  public CourierException(String message) {
    this(message, null, null, null);
  }

  public CourierException(String message, Throwable cause) {
    this(message, null, null, cause);
  }

  public CourierException(String message, UUID eventId, String destination, Throwable cause) {
    super(describe(message, eventId, destination), cause);
    this.eventId = eventId;
    this.destination = destination;
  }

  private static String describe(String message, UUID eventId, String destination) {
    StringBuilder sb = new StringBuilder(message);
    if (eventId != null) {
      sb.append(" [event_id=").append(eventId);
      if (destination != null) {
        sb.append(", destination=").append(destination);
      }
      sb.append(']');
    } else if (destination != null) {
      sb.append(" [destination=").append(destination).append(']');
    }
    return sb.toString();
  }

  /** The event the failure concerns, or {@code null} when it concerns no single event. */
  public UUID eventId() {
    return eventId;
  }

  /** The destination (topic, exchange, subject) the failure concerns, or {@code null}. */
  public String destination() {
    return destination;
  }
}
