package dev.courier.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Decoded.Undecodable;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReceivedMessageTest {
  private static final String ID = "0190a6f1-7b2c-7cde-8f00-0123456789ab";

  private static ReceivedMessage message() {
    ReceivedMessage m = ReceivedMessage.of("record", true, "orders", new byte[0], Map::of);
    m.header("courier-event-id", ID);
    m.header("courier-event-type", "OrderPlaced");
    m.header("tenant", "acme");
    return m;
  }

  @Test
  void replayHeaders_reachTheEventsHeaders_whileCouriersOtherHeadersDoNot() {
    ReceivedMessage m = message();
    m.header("Courier-Replay-Consumer", "billing");
    m.header("courier-replay-id", "fix-1");

    Decoded d = m.decode(Instant.EPOCH);

    assertThat(d).isInstanceOf(Decodable.class);
    assertThat(((Decodable) d).event().headers())
        .containsOnly(
            Map.entry("tenant", "acme"),
            Map.entry(ReceivedMessage.REPLAY_CONSUMER, "billing"),
            Map.entry(ReceivedMessage.REPLAY_ID, "fix-1"));
  }

  @Test
  void anEventWithoutReplayHeaders_hasOnlyItsApplicationHeaders() {
    Decoded d = message().decode(Instant.EPOCH);

    assertThat(((Decodable) d).event().headers()).containsOnly(Map.entry("tenant", "acme"));
  }

  @Test
  void anOverlongReplayConsumer_makesTheMessageMalformed() {
    ReceivedMessage m = message();
    m.header(ReceivedMessage.REPLAY_CONSUMER, "c".repeat(256));

    assertThat(m.decode(Instant.EPOCH)).isInstanceOf(Undecodable.class);
  }

  @Test
  void reservedHeaderName_refusesCouriersNames_butLetsTheReplayHeadersTravel() {
    assertThat(ReceivedMessage.reservedHeaderName("courier-event-id")).isTrue();
    assertThat(ReceivedMessage.reservedHeaderName("COURIER-anything")).isTrue();
    assertThat(ReceivedMessage.reservedHeaderName(ReceivedMessage.REPLAY_ID)).isFalse();
    assertThat(ReceivedMessage.reservedHeaderName(ReceivedMessage.REPLAY_CONSUMER)).isFalse();
    assertThat(ReceivedMessage.reservedHeaderName("tenant")).isFalse();
  }
}
