package dev.courier.admin;

import dev.courier.FatalCourierException;

/**
 * An operator request is malformed: an unknown filter field, a time range whose end is before its
 * start, a missing reason. Thrown before anything is changed.
 */
public class InvalidRequestException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  private final String field;

  /**
   * @param field the request field at fault, such as {@code from} or {@code reason}
   * @param message what is wrong with it and what is expected
   */
  public InvalidRequestException(String field, String message) {
    super(field + ": " + message);
    this.field = field;
  }

  /** The request field at fault. */
  public String field() {
    return field;
  }
}
