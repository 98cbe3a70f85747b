package dev.courier;

import java.util.UUID;

/**
 * An event that cannot be accepted as it is: a missing type, a payload over the size limit, an
 * invalid id. Thrown by the outbox before anything is written, and used by consumers to classify
 * malformed records, which are dead-lettered with this exception's message as the reason.
 */
public class InvalidEventException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  public InvalidEventException(String message) {
    super(message);
  }

  public InvalidEventException(String message, UUID eventId, String destination) {
    super(message, eventId, destination, null);
  }

  public InvalidEventException(String message, UUID eventId, String destination, Throwable cause) {
    super(message, eventId, destination, cause);
  }
}
