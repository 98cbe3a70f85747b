package dev.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {

  @Test
  void aWholeNumberWithAUnit_isRead_inAnyCase_withOrWithoutASpace() {
    assertThat(Durations.parse("x", "500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(Durations.parse("x", "30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("x", "5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("x", "2h")).isEqualTo(Duration.ofHours(2));
    assertThat(Durations.parse("x", "1d")).isEqualTo(Duration.ofDays(1));
    assertThat(Durations.parse("x", " 30 S ")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("x", "5M")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("x", "0s")).isZero();
  }

  @Test
  void severalParts_largestFirst_addUp() {
    assertThat(Durations.parse("x", "1m30s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Durations.parse("x", "1h5m")).isEqualTo(Duration.ofMinutes(65));
    assertThat(Durations.parse("x", "1d 2h 3m 4s 5ms"))
        .isEqualTo(Duration.ofDays(1).plusHours(2).plusMinutes(3).plusSeconds(4).plusMillis(5));
    assertThat(Durations.parse("x", "2s500ms")).isEqualTo(Duration.ofMillis(2500));
  }

  @Test
  void iso8601_isRead_inAnyCase() {
    assertThat(Durations.parse("x", "PT30S")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("x", "pt1m30s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(Durations.parse("x", "P1D")).isEqualTo(Duration.ofDays(1));
    assertThat(Durations.parse("x", "PT0.5S")).isEqualTo(Duration.ofMillis(500));
  }

  @Test
  void aBareZero_isZero() {
    assertThat(Durations.parse("x", "0")).isZero();
    assertThat(Durations.parse("x", "-0")).isZero();
  }

  @Test
  void aBareNumber_isRefused_namingTheSettingAndTheUnits() {
    assertThatThrownBy(() -> Durations.parse("--duration", "30"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(
            "--duration: '30' has no unit; write it like 30s or 30ms (units: ms, s, m, h, d)")
        .extracting(e -> ((ConfigurationException) e).setting())
        .isEqualTo("--duration");
  }

  @Test
  void text_thatIsNoDuration_isRefused_withTheAcceptedForms() {
    assertThatThrownBy(() -> Durations.parse("ackWait", "soon"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(
            "ackWait: 'soon' is not a duration; write a whole number with a unit: ms, s, m, h or d"
                + " (500ms, 30s, 1m30s, 2h), or ISO-8601 (PT30S)");
    assertThatThrownBy(() -> Durations.parse("x", "5w")).hasMessageContaining("is not a duration");
    assertThatThrownBy(() -> Durations.parse("x", "5s5")).hasMessageContaining("is not a duration");
    assertThatThrownBy(() -> Durations.parse("x", "+5s")).hasMessageContaining("is not a duration");
  }

  @Test
  void emptyText_isRefused() {
    assertThatThrownBy(() -> Durations.parse("x", "  "))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("x: is empty; write a whole number with a unit");
    assertThatThrownBy(() -> Durations.parse("x", null)).hasMessageStartingWith("x: is empty");
  }

  @Test
  void aFraction_isRefused_withTheSameDurationInMilliseconds() {
    assertThatThrownBy(() -> Durations.parse("--warmup", "1.5s"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(
            "--warmup: '1.5s' is not a whole number; write it in a smaller unit, like 1500ms");
    assertThatThrownBy(() -> Durations.parse("x", "0.5ms"))
        .hasMessageStartingWith(
            "x: '0.5ms' is not a whole number; write a whole number with a unit");
  }

  @Test
  void unitsOutOfOrderOrRepeated_areRefused() {
    assertThatThrownBy(() -> Durations.parse("x", "30s1m"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("x: '30s1m' repeats a unit or puts a smaller one first; write");
    assertThatThrownBy(() -> Durations.parse("x", "1m1m"))
        .hasMessageContaining("repeats a unit or puts a smaller one first");
  }

  @Test
  void negativeDurations_areRefused_inEitherSyntax() {
    assertThatThrownBy(() -> Durations.parse("x", "-5s"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("x: '-5s' is negative; write zero or more");
    assertThatThrownBy(() -> Durations.parse("x", "-PT5S"))
        .hasMessage("x: '-PT5S' is negative; write zero or more");
    assertThatThrownBy(() -> Durations.parse("x", "PT-5S"))
        .hasMessage("x: 'PT-5S' is negative; write zero or more");
    assertThatThrownBy(() -> Durations.parse("x", "-soon"))
        .hasMessageContaining("is not a duration");
  }

  @Test
  void durationsTooLargeForDuration_areRefused() {
    assertThatThrownBy(() -> Durations.parse("x", "99999999999999999999s"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("x: '99999999999999999999s' is too large");
    assertThatThrownBy(() -> Durations.parse("x", "9223372036854775807d"))
        .hasMessage("x: '9223372036854775807d' is too large");
    assertThatThrownBy(() -> Durations.parse("x", "106751991167300d 9223372036854775807s"))
        .hasMessageEndingWith("is too large");
    assertThatThrownBy(() -> Durations.parse("x", "PT9223372036854775807H"))
        .hasMessageEndingWith("is too large");
  }

  @Test
  void iso8601_thatIsNoDuration_isRefused() {
    assertThatThrownBy(() -> Durations.parse("x", "P1M"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("x: 'P1M' is not an ISO-8601 duration; write");
  }

  @Test
  void parsePositive_refusesZero() {
    assertThat(Durations.parsePositive("x", "1ms")).isEqualTo(Duration.ofMillis(1));
    assertThatThrownBy(() -> Durations.parsePositive("--duration", "0s"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("--duration: must be more than zero, was '0s'");
    assertThatThrownBy(() -> Durations.parsePositive("--duration", "0"))
        .hasMessage("--duration: must be more than zero, was '0'");
  }

  @Test
  void aRange_isChecked_andStatedInTheMessage() {
    Duration min = Duration.ofSeconds(1);
    Duration max = Duration.ofHours(12);
    assertThat(Durations.parse("ackWait", "1s", min, max)).isEqualTo(min);
    assertThat(Durations.parse("ackWait", "12h", min, max)).isEqualTo(max);
    assertThatThrownBy(() -> Durations.parse("ackWait", "999ms", min, max))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("ackWait: must be between 1s and 12h, was 999ms");
    assertThatThrownBy(() -> Durations.parse("ackWait", "PT12H1S", min, max))
        .hasMessage("ackWait: must be between 1s and 12h, was 43201s");
    assertThatThrownBy(() -> Durations.parse("ackWait", "30", min, max))
        .hasMessageContaining("has no unit");
  }

  @Test
  void format_writesTheLargestUnitThatHoldsTheDurationExactly_andParseReadsItBack() {
    assertThat(Durations.format(Duration.ZERO)).isEqualTo("0s");
    assertThat(Durations.format(Duration.ofMillis(500))).isEqualTo("500ms");
    assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
    assertThat(Durations.format(Duration.ofMinutes(5))).isEqualTo("5m");
    assertThat(Durations.format(Duration.ofHours(2))).isEqualTo("2h");
    assertThat(Durations.format(Duration.ofDays(3))).isEqualTo("3d");
    assertThat(Durations.format(Duration.ofSeconds(-30))).isEqualTo("-30s");
    assertThat(Durations.format(Duration.ofNanos(1500))).isEqualTo("PT0.0000015S");
    for (Duration d :
        new Duration[] {
          Duration.ofMillis(1), Duration.ofMillis(61_001), Duration.ofHours(25), Duration.ofNanos(7)
        }) {
      assertThat(Durations.parse("x", Durations.format(d))).isEqualTo(d);
    }
  }

  @Test
  void controlCharacters_areNotEchoed() {
    assertThatThrownBy(() -> Durations.parse("x", "5\u001b[2Js"))
        .hasMessage(
            "x: '5?[2Js' is not a duration; write a whole number with a unit: ms, s, m, h or d"
                + " (500ms, 30s, 1m30s, 2h), or ISO-8601 (PT30S)");
  }
}
