package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Method;
import com.rabbitmq.client.ShutdownSignalException;
import dev.courier.internal.Causes;

/** Reads what the broker said when it closed a channel or a connection. */
final class AmqpErrors {
  /** AMQP reply codes Courier reacts to. */
  static final int NOT_FOUND = AMQP.NOT_FOUND;

  static final int ACCESS_REFUSED = AMQP.ACCESS_REFUSED;
  static final int PRECONDITION_FAILED = AMQP.PRECONDITION_FAILED;

  private AmqpErrors() {}

  /** The shutdown signal behind {@code t} (itself or a cause), or {@code null}. */
  static ShutdownSignalException shutdownSignal(Throwable t) {
    return Causes.find(t, ShutdownSignalException.class);
  }

  /** The reply code the broker closed the channel or connection with, or 0. */
  static int replyCode(Throwable t) {
    ShutdownSignalException sse = shutdownSignal(t);
    if (sse == null) {
      return 0;
    }
    Method m = sse.getReason();
    if (m instanceof AMQP.Channel.Close c) {
      return c.getReplyCode();
    }
    if (m instanceof AMQP.Connection.Close c) {
      return c.getReplyCode();
    }
    return 0;
  }

  /** Whether the broker closed only the channel (the connection is fine). */
  static boolean channelLevel(Throwable t) {
    ShutdownSignalException sse = shutdownSignal(t);
    return sse != null && !sse.isHardError();
  }

  /**
   * One line saying why a channel or connection closed or an operation failed, for logs and
   * errors: the broker's reply code and text where there is one. Never contains credentials: the
   * broker's texts name resources, and the client's connection errors name host and port only.
   */
  static String describe(Throwable t) {
    ShutdownSignalException sse = shutdownSignal(t);
    if (sse == null) {
      return t.toString();
    }
    Method m = sse.getReason();
    if (m instanceof AMQP.Channel.Close c) {
      return "the broker closed the channel: " + c.getReplyCode() + " " + c.getReplyText();
    }
    if (m instanceof AMQP.Connection.Close c) {
      return sse.isInitiatedByApplication()
          ? "the connection was closed by this process"
          : "the broker closed the connection: " + c.getReplyCode() + " " + c.getReplyText();
    }
    Throwable cause = sse.getCause();
    return "the connection was lost" + (cause == null ? "" : ": " + cause);
  }
}
