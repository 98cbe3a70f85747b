package dev.courier;

import java.util.UUID;

/** A failure that may go away by itself: a broker or database that is briefly unreachable. */
public class RetriableCourierException extends CourierException {
  private static final long serialVersionUID = 1L;

  public RetriableCourierException(String message, Throwable cause) {
    super(message, cause);
  }

  public RetriableCourierException(
      String message, UUID eventId, String destination, Throwable cause) {
    super(message, eventId, destination, cause);
  }
}
