package dev.courier.tracing;

import dev.courier.Event;
import java.util.Map;

/**
 * W3C trace context across the outbox and the broker, with the OpenTelemetry API only (the SDK
 * stays the application's choice). When the API is not on the classpath every method is a cheap
 * no-op.
 *
 * <p>On append the current span's context is captured as {@code traceparent}/{@code tracestate}
 * headers and stored with the outbox row; transports carry headers unchanged; the consumer runs
 * the handler in a span of kind CONSUMER linked to the writer's span, so a trace shows the event's
 * whole journey even when relay and consumer run much later.
 */
public final class Tracing {
  private static final boolean AVAILABLE = detect();

  private Tracing() {}

  private static boolean detect() {
    try {
      Class.forName("io.opentelemetry.api.GlobalOpenTelemetry", false, Tracing.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /** Whether the OpenTelemetry API is present. */
  public static boolean available() {
    return AVAILABLE;
  }

  /** The current trace context as W3C headers; empty without a valid current span. */
  public static Map<String, String> currentContextHeaders() {
    return AVAILABLE ? OtelBridge.currentContextHeaders() : Map.of();
  }

  /** Work done inside a consumer span. */
  @FunctionalInterface
  public interface Work<T> {
    T run() throws Exception;
  }

  /**
   * Runs {@code work} in a CONSUMER span for {@code event}, linked to the trace context carried in
   * its headers. Exceptions are recorded on the span and rethrown unchanged.
   */
  public static <T> T inConsumerSpan(Event event, String consumer, Work<T> work) throws Exception {
    return AVAILABLE ? OtelBridge.inConsumerSpan(event, consumer, work) : work.run();
  }
}
