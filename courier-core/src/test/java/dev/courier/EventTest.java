package dev.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class EventTest {

  @Test
  void build_withoutId_assignsAUuidV7() {
    Event e = Event.builder("OrderConfirmed").destination("orders").build();
    assertThat(e.id().version()).isEqualTo(7);
  }

  @Test
  void build_withoutType_failsWithAClearError() {
    assertThatThrownBy(() -> Event.builder(" ").destination("orders").build())
        .isInstanceOf(InvalidEventException.class)
        .hasMessageContaining("type is missing");
    assertThatThrownBy(() -> Event.builder("T").build())
        .isInstanceOf(InvalidEventException.class)
        .hasMessageContaining("destination is missing");
  }

  @Test
  void parseId_rejectsMissingMalformedAndNilIds() {
    assertThatThrownBy(() -> Event.parseId(null)).hasMessageContaining("missing");
    assertThatThrownBy(() -> Event.parseId("1-1-1-1-1")).hasMessageContaining("canonical UUID");
    assertThatThrownBy(() -> Event.parseId("not-a-uuid")).isInstanceOf(InvalidEventException.class);
    assertThatThrownBy(() -> Event.parseId("00000000-0000-0000-0000-000000000000"))
        .hasMessageContaining("nil UUID");
    UUID id = UUID.randomUUID();
    assertThat(Event.parseId(id.toString())).isEqualTo(id);
  }

  @Test
  void toString_neverRendersPayloadOrHeaderValues() {
    Event e =
        Event.builder("UserRegistered")
            .destination("users")
            .payload("{\"password\":\"hunter2\"}")
            .header("authorization", "Bearer s3cr3t")
            .build(Instant.EPOCH);
    assertThat(e.toString()).doesNotContain("hunter2").doesNotContain("s3cr3t").contains("payloadBytes=");
  }

  @Test
  void payload_isDefensivelyCopied() {
    byte[] bytes = {1, 2, 3};
    Event e = Event.builder("T").destination("d").payload(bytes).build();
    bytes[0] = 9;
    e.payload()[1] = 9;
    assertThat(e.payload()).containsExactly(1, 2, 3);
  }

  @Test
  void uuidV7_isStrictlyIncreasingWithinOneJvm() {
    UUID prev = UuidV7.next();
    Set<UUID> seen = new HashSet<>();
    for (int i = 0; i < 50_000; i++) {
      UUID next = UuidV7.next();
      assertThat(compareUnsigned(next, prev)).isPositive();
      assertThat(seen.add(next)).isTrue();
      prev = next;
    }
    assertThat(Math.abs(UuidV7.timestampMillis(prev) - System.currentTimeMillis())).isLessThan(5_000);
  }

  private static int compareUnsigned(UUID a, UUID b) {
    int c = Long.compareUnsigned(a.getMostSignificantBits(), b.getMostSignificantBits());
    return c != 0 ? c : Long.compareUnsigned(a.getLeastSignificantBits(), b.getLeastSignificantBits());
  }
}
