package dev.courier;

import java.util.UUID;

/**
 * A failure that retrying cannot fix: invalid input, an unsafe or invalid configuration, a poison
 * event. Courier dead-letters an event that fails this way at once instead of retrying it.
 */
public class FatalCourierException extends CourierException {
  private static final long serialVersionUID = 1L;

  public FatalCourierException(String message) {
    super(message);
  }

  public FatalCourierException(String message, Throwable cause) {
    super(message, cause);
  }

  public FatalCourierException(String message, UUID eventId, String destination, Throwable cause) {
    super(message, eventId, destination, cause);
  }
}
