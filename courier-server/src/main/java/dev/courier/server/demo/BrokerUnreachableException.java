package dev.courier.server.demo;

import dev.courier.FatalCourierException;

/**
 * The broker chosen for the demo does not answer. The message names the address (passwords masked)
 * and how to start a broker there or point the demo at another; {@code courier demo} prints it
 * without a stack trace and exits with the usage code, since nothing ran.
 */
final class BrokerUnreachableException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  BrokerUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
