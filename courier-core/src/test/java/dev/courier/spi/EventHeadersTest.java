package dev.courier.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.internal.Text;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EventHeadersTest {

  private static Event full() {
    return Event.builder("OrderPlaced")
        .destination("orders")
        .key("order-ü")
        .payload("{\"total\":42}")
        .header("tenant", "acme-é")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .correlationId("corr-1")
        .causationId("cause-1")
        .build(Instant.parse("2026-01-02T03:04:05.123456Z"));
  }

  private static List<String> written(EventHeaders codec, Event e) {
    List<String> out = new ArrayList<>();
    codec.write(e, (name, value) -> out.add(name + "=" + value));
    return out;
  }

  @Test
  void everyBrokerGetsTheSameNamesInTheSameOrder_theKeyAsAHeaderOnlyWhereAsked() {
    Event e = full();

    List<String> written = written(EventHeaders.KEY_AS_HEADER, e);

    assertThat(written.subList(0, 6))
        .containsExactly(
            "courier-event-id=" + e.id(),
            "courier-event-type=OrderPlaced",
            "courier-event-key=order-ü",
            "courier-correlation-id=corr-1",
            "courier-causation-id=cause-1",
            "courier-created-at=2026-01-02T03:04:05.123456Z");
    assertThat(written.subList(6, 8))
        .as("then the application's headers, in the order the event holds them")
        .containsExactlyElementsOf(
            e.headers().entrySet().stream().map(h -> h.getKey() + "=" + h.getValue()).toList())
        .containsExactlyInAnyOrder(
            "tenant=acme-é", "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assertThat(written(EventHeaders.KEY_AS_RECORD_KEY, e))
        .doesNotContain("courier-event-key=order-ü")
        .hasSize(7);
  }

  @Test
  void whatIsWritten_decodesBackToTheSameEvent() {
    Event e = full();
    ReceivedMessage in = ReceivedMessage.of("message", true, "orders", e.payload(), Map::of);
    EventHeaders.KEY_AS_HEADER.write(e, in::header);

    Decoded d = in.key(in.courierHeader(ReceivedMessage.EVENT_KEY)).decode(Instant.EPOCH);

    assertThat(d).isEqualTo(new Decoded.Decodable(e));
  }

  @Test
  void absentIdentifiers_areNotWritten() {
    Event bare = Event.builder("Ping").destination("orders").build();

    assertThat(written(EventHeaders.KEY_AS_HEADER, bare))
        .extracting(h -> h.substring(0, h.indexOf('=')))
        .containsExactly("courier-event-id", "courier-event-type", "courier-created-at");
  }

  @Test
  void bytes_areThePayloadTheKeyAndEveryHeaderWrittenInUtf8() {
    Event e = full();
    for (EventHeaders codec : List.of(EventHeaders.KEY_AS_HEADER, EventHeaders.KEY_AS_RECORD_KEY)) {
      long[] headers = {0};
      codec.write(e, (n, v) -> headers[0] += Text.utf8Length(n) + Text.utf8Length(v));
      long key = codec == EventHeaders.KEY_AS_RECORD_KEY ? Text.utf8Length(e.key()) : 0;

      assertThat(codec.bytes(e)).isEqualTo(e.payloadSize() + key + headers[0]);
    }
  }

  @Test
  void sizeProblem_namesTheSizeThePayloadTheLimitAndItsSetting() {
    Event e = full();
    long size = EventHeaders.KEY_AS_RECORD_KEY.bytes(e);

    assertThat(EventHeaders.KEY_AS_RECORD_KEY.sizeProblem(e, "record", size, "X.max")).isNull();
    assertThat(EventHeaders.KEY_AS_RECORD_KEY.sizeProblem(e, "record", size - 1, "X.max"))
        .isEqualTo(
            "the record is "
                + size
                + " bytes (payload 12), over the limit of "
                + (size - 1)
                + " bytes (X.max)");
  }

  @Test
  void applicationHeadersWithCouriersPrefix_areRefused_butReplayHeadersTravel() {
    Event spoof = Event.builder("T").destination("d").header("Courier-Event-Id", "x").build();
    Event replay =
        Event.builder("T").destination("d").header(ReceivedMessage.REPLAY_ID, "r-1").build();

    assertThat(EventHeaders.reservedHeaderProblem(spoof))
        .contains("'Courier-Event-Id'")
        .contains("reserved for Courier's own headers");
    assertThat(EventHeaders.reservedHeaderProblem(replay)).isNull();
  }
}
