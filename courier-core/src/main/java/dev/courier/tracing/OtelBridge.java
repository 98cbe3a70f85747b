package dev.courier.tracing;

import dev.courier.Event;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.HashMap;
import java.util.Map;

/** The only class that touches OpenTelemetry types; loaded only when the API is present. */
final class OtelBridge {
  private static final AttributeKey<String> DESTINATION = AttributeKey.stringKey("messaging.destination.name");
  private static final AttributeKey<String> MESSAGE_ID = AttributeKey.stringKey("messaging.message.id");
  private static final AttributeKey<String> OPERATION = AttributeKey.stringKey("messaging.operation.type");
  private static final AttributeKey<String> CONSUMER = AttributeKey.stringKey("courier.consumer");
  private static final AttributeKey<String> EVENT_TYPE = AttributeKey.stringKey("courier.event.type");

  private static final TextMapGetter<Map<String, String>> GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
          return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
          return carrier == null ? null : carrier.get(key);
        }
      };

  private OtelBridge() {}

  static Map<String, String> currentContextHeaders() {
    if (!Span.current().getSpanContext().isValid()) {
      return Map.of();
    }
    Map<String, String> out = new HashMap<>(2);
    W3CTraceContextPropagator.getInstance().inject(Context.current(), out, Map::put);
    return out;
  }

  static <T> T inConsumerSpan(Event event, String consumer, Tracing.Work<T> work) throws Exception {
    SpanContext producer =
        Span.fromContext(W3CTraceContextPropagator.getInstance().extract(Context.root(), event.headers(), GETTER))
            .getSpanContext();
    var builder =
        GlobalOpenTelemetry.getTracer("dev.courier")
            .spanBuilder("process " + event.destination())
            .setSpanKind(SpanKind.CONSUMER)
            .setAttribute(DESTINATION, event.destination())
            .setAttribute(MESSAGE_ID, event.id().toString())
            .setAttribute(OPERATION, "process")
            .setAttribute(CONSUMER, consumer)
            .setAttribute(EVENT_TYPE, event.type());
    if (producer.isValid()) {
      builder.addLink(producer);
    }
    Span span = builder.startSpan();
    try (Scope ignored = span.makeCurrent()) {
      return work.run();
    } catch (Exception e) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR, e.getClass().getSimpleName());
      throw e;
    } finally {
      span.end();
    }
  }
}
