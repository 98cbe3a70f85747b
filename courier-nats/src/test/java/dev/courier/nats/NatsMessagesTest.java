package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.spi.Decoded;
import io.nats.client.Message;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsMessage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The wire details that need no server: header values, subjects, durations, stream subjects. */
class NatsMessagesTest {

  @Test
  void headerValuesOutsidePrintableAscii_travelAsEncodedWords_andComeBackUnchanged()
      throws Exception {
    for (String v : List.of("plain", "zoë ✓", "line\nbreak", "=?utf-8?b?Zm9v?=", "", "emoji 🚚")) {
      String wire = NatsMessages.encodeValue(v);
      assertThat(wire.chars()).allMatch(c -> c >= ' ' && c < 0x7f);
      assertThat(NatsMessages.decodeValue(wire)).isEqualTo(v);
    }
    assertThat(NatsMessages.encodeValue("plain")).isEqualTo("plain");
  }

  @Test
  void theKey_travelsAsCourierEventKey_andComesBack() {
    Event e = Event.builder("OrderPlaced").destination("orders").key("order-ü").build();

    Headers headers = NatsMessages.headers(e);

    assertThat(headers.getFirst(NatsHeaders.EVENT_KEY))
        .isEqualTo(NatsMessages.encodeValue("order-ü"));
    assertThat(headers.containsKey(NatsHeaders.LEGACY_KEY)).isFalse();
    assertThat(decodedKey(headers)).isEqualTo("order-ü");
  }

  /** Compatibility: messages published before the key header was renamed keep their key. */
  @Test
  void aMessageWithTheKeyUnderItsOldName_courierKey_isStillDecodedWithItsKey() {
    Event e = Event.builder("OrderPlaced").destination("orders").build();
    Headers old = NatsMessages.headers(e);
    old.put(NatsHeaders.LEGACY_KEY, "order-7");

    assertThat(decodedKey(old)).isEqualTo("order-7");
  }

  @Test
  void whenBothNamesArePresent_theNewOneWins() {
    Event e = Event.builder("OrderPlaced").destination("orders").key("new-key").build();
    Headers both = NatsMessages.headers(e);
    both.put(NatsHeaders.LEGACY_KEY, "old-key");

    assertThat(decodedKey(both)).isEqualTo("new-key");
  }

  private static String decodedKey(Headers headers) {
    Message m = NatsMessage.builder().subject("orders").headers(headers).data(new byte[0]).build();
    Decoded d = NatsMessages.decode(m, 1024, Instant.EPOCH);
    assertThat(d).isInstanceOf(Decoded.Decodable.class);
    return ((Decoded.Decodable) d).event().key();
  }

  @Test
  void subjectsThatAreWildcardsOrServerApis_areNotDestinations() {
    assertThat(NatsMessages.subjectProblem("orders.created")).isNull();
    assertThat(NatsMessages.subjectProblem("orders.*")).contains("wildcard");
    assertThat(NatsMessages.subjectProblem("orders.>")).contains("wildcard");
    assertThat(NatsMessages.subjectProblem("$JS.API.STREAM.DELETE.X")).contains("reserved");
    assertThat(NatsMessages.subjectProblem("orders..created")).contains("empty token");
    assertThat(NatsMessages.subjectProblem("orders created")).contains("space");
  }

  @Test
  void streamSubjects_captureBySubjectWildcards() {
    assertThat(Streams.captures(List.of("orders.*"), "orders.created")).isTrue();
    assertThat(Streams.captures(List.of("orders.>"), "orders.eu.created")).isTrue();
    assertThat(Streams.captures(List.of("orders.*"), "orders.eu.created")).isFalse();
    assertThat(Streams.captures(List.of("orders.created"), "orders")).isFalse();
    assertThat(Streams.captures(List.of("billing", "orders.created"), "orders.created")).isTrue();
  }

  @Test
  void defaultStreamName_isTheSubjectInUpperCaseWithSeparatorsReplaced() {
    assertThat(JetStreamTransport.defaultStreamName("orders.created"))
        .isEqualTo("COURIER_ORDERS_CREATED");
    assertThat(JetStreamTransport.defaultStreamName("eu-orders.v2"))
        .isEqualTo("COURIER_EU-ORDERS_V2");
  }

  @Test
  void durations_printShortInMessages() {
    assertThat(DurationText.format(Duration.ofMinutes(17))).isEqualTo("17m");
    assertThat(DurationText.format(Duration.ofSeconds(511))).isEqualTo("8m31s");
    assertThat(DurationText.format(Duration.ofSeconds(2))).isEqualTo("2s");
    assertThat(DurationText.format(Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(DurationText.format(Duration.ofMinutes(65))).isEqualTo("1h5m");
  }
}
