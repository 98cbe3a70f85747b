package dev.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link Text#isoInstant} must write exactly what {@code Instant.toString()} writes. */
class IsoInstantTest {

  @Test
  void everyInstant_isWrittenAsInstantToStringWritesIt() {
    SplittableRandom random = new SplittableRandom(20261207);
    long first = Instant.parse("0000-01-01T00:00:00Z").getEpochSecond() - 86_400L * 400;
    long last = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond() + 86_400L * 400;
    for (int i = 0; i < 200_000; i++) {
      long second = random.nextLong(first, last + 1);
      int nanos =
          switch (i % 4) {
            case 0 -> 0;
            case 1 -> random.nextInt(1_000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1_000;
            default -> random.nextInt(1_000_000_000);
          };
      check(Instant.ofEpochSecond(second, nanos));
    }
  }

  @Test
  void edges_ofTheFourDigitYears_leapDays_andTheFraction() {
    for (String s :
        new String[] {
          "0000-01-01T00:00:00Z",
          "9999-12-31T23:59:59.999999999Z",
          "1970-01-01T00:00:00Z",
          "1969-12-31T23:59:59.999Z",
          "2024-02-29T12:00:00.000001Z",
          "2000-02-29T23:59:59.100Z",
          "1900-03-01T00:00:00.000000010Z",
          "-0001-12-31T23:59:59Z",
          "+10000-01-01T00:00:00Z"
        }) {
      check(Instant.parse(s));
    }
    check(Instant.MIN);
    check(Instant.MAX);
    check(Instant.EPOCH);
  }

  private static void check(Instant t) {
    assertThat(new String(Text.isoInstant(t), StandardCharsets.US_ASCII)).as("%s", t).isEqualTo(t.toString());
    assertThat(Text.isoInstantText(t)).isEqualTo(t.toString());
    assertThat(Text.isoInstantLength(t)).isEqualTo(t.toString().length());
  }
}
