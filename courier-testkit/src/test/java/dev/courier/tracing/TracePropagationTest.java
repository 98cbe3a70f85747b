package dev.courier.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.sql.Connection;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** W3C trace context travels from the writing transaction to the consumer's handler span. */
class TracePropagationTest {
  private static final InMemorySpanExporter spans = InMemorySpanExporter.create();
  private static PGSimpleDataSource db;

  @BeforeAll
  static void setUp() {
    GlobalOpenTelemetry.resetForTest();
    OpenTelemetrySdk.builder()
        .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build())
        .buildAndRegisterGlobal();
    db = TestDatabase.shared().freshSchema("tracing");
    Schema.migrate(db, CourierTables.DEFAULT);
  }

  @AfterAll
  static void tearDown() {
    GlobalOpenTelemetry.resetForTest();
    TestDatabase.shared().dropSchema(db);
  }

  @Test
  void eventWrittenInsideASpan_carriesItsTraceparent_andTheHandlerRunsInAConsumerSpanLinkedToIt() throws Exception {
    Span writer = GlobalOpenTelemetry.getTracer("test").spanBuilder("checkout").startSpan();
    Event stored;
    try (Scope ignored = writer.makeCurrent(); Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      stored = Outbox.builder().build().append(c, Event.builder("OrderConfirmed").destination("orders"));
      c.commit();
    } finally {
      writer.end();
    }
    SpanContext writerContext = writer.getSpanContext();
    assertThat(stored.headers().get(Event.TRACEPARENT))
        .isEqualTo("00-" + writerContext.getTraceId() + "-" + writerContext.getSpanId() + "-" + writerContext.getTraceFlags().asHex());

    AtomicReference<SpanContext> seenByHandler = new AtomicReference<>();
    IdempotentProcessor processor =
        IdempotentProcessor.builder("traced", db, (event, connection) -> seenByHandler.set(Span.current().getSpanContext()))
            .build();
    assertThat(processor.process(stored, 1, "test")).isInstanceOf(HandleOutcome.Applied.class);

    SpanData consumerSpan =
        spans.getFinishedSpanItems().stream().filter(s -> s.getKind() == SpanKind.CONSUMER).findFirst().orElseThrow();
    assertThat(consumerSpan.getName()).isEqualTo("process orders");
    assertThat(consumerSpan.getLinks()).extracting(l -> l.getSpanContext().getSpanId()).containsExactly(writerContext.getSpanId());
    assertThat(seenByHandler.get().getSpanId()).isEqualTo(consumerSpan.getSpanId());
  }

  @Test
  void eventWrittenWithoutASpan_carriesNoTraceHeaders() throws Exception {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      Event e = Outbox.builder().build().append(c, Event.builder("T").destination("d"));
      c.rollback();
      assertThat(e.headers()).doesNotContainKey(Event.TRACEPARENT);
    }
  }
}
