package dev.courier;

/**
 * Thrown by a handler to say that this event can never be processed, however often it is retried
 * (for example, it refers to something that does not exist). Courier dead-letters it at once, with
 * this exception's message as the reason, and moves on.
 */
public class PoisonEventException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  public PoisonEventException(String message) {
    super(message);
  }

  public PoisonEventException(String message, Throwable cause) {
    super(message, cause);
  }
}
