package dev.courier.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.admin.InvalidRequestException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TimeArgumentTest {
  private static final Instant NOW = Instant.parse("2026-11-27T12:00:00Z");
  private final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);

  @Test
  void anAge_isWrittenAsEveryDuration_andCountsBackFromNow() {
    assertThat(TimeArgument.parse("--from", "90m", clock))
        .isEqualTo(NOW.minus(Duration.ofMinutes(90)));
    assertThat(TimeArgument.parse("--from", "3d", clock)).isEqualTo(NOW.minus(Duration.ofDays(3)));
    assertThat(TimeArgument.parse("--from", "1h30m", clock))
        .isEqualTo(NOW.minus(Duration.ofMinutes(90)));
    assertThat(TimeArgument.parse("--from", "500ms", clock)).isEqualTo(NOW.minusMillis(500));
    assertThat(TimeArgument.parse("--from", "PT2H", clock))
        .isEqualTo(NOW.minus(Duration.ofHours(2)));
  }

  @Test
  void instantsAndDates_areReadAsBefore() {
    assertThat(TimeArgument.parse("to", "2026-11-27T09:30:00Z", clock))
        .isEqualTo(Instant.parse("2026-11-27T09:30:00Z"));
    assertThat(TimeArgument.parse("to", "2026-11-27T10:30:00+01:00", clock))
        .isEqualTo(Instant.parse("2026-11-27T09:30:00Z"));
    assertThat(TimeArgument.parse("to", "2026-11-27", clock))
        .isEqualTo(Instant.parse("2026-11-27T00:00:00Z"));
    assertThat(TimeArgument.parse("to", " ", clock)).isNull();
  }

  @Test
  void aBareNumberOrANegativeAgeOrAnAgeBeforeTimeBegan_isNotATime() {
    for (String text : new String[] {"90", "-2h", "soon", "9223372036854775807s"}) {
      assertThatThrownBy(() -> TimeArgument.parse("--from", text, clock))
          .as(text)
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("--from")
          .hasMessageContaining("is not a time");
    }
  }
}
