package dev.courier.internal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Base64;

/**
 * Text from brokers, read as untrusted input. Public only so adapters can share it; not part of
 * the API.
 */
public final class Text {
  private Text() {}

  /** Text from a message or a setting, shortened and stripped of control characters, to log. */
  public static String printable(String s) {
    String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }

  /**
   * Decodes UTF-8, refusing malformed input instead of replacing it.
   *
   * @throws CharacterCodingException if {@code bytes} are not valid UTF-8
   */
  public static String strictUtf8(byte[] bytes) throws CharacterCodingException {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }

  /**
   * A received value as text for a dead letter: UTF-8 when it is, else {@code base64:...}, so that
   * an operator can still see exactly what arrived; {@code null} is the empty string.
   */
  public static String rawText(byte[] bytes) {
    if (bytes == null) {
      return "";
    }
    try {
      return strictUtf8(bytes);
    } catch (CharacterCodingException e) {
      return "base64:" + Base64.getEncoder().encodeToString(bytes);
    }
  }

  // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years printed as four plain digits
  private static final long FIRST_SECOND_OF_YEAR_0 = -62_167_219_200L;
  private static final long LAST_SECOND_OF_YEAR_9999 = 253_402_300_799L;

  /**
   * {@code t.toString()} (ISO-8601 in UTC, the fraction in groups of three digits, none when zero)
   * as ASCII bytes, without the general formatter: a relay writes one per event.
   */
  public static byte[] isoInstant(Instant t) {
    long seconds = t.getEpochSecond();
    if (seconds < FIRST_SECOND_OF_YEAR_0 || seconds > LAST_SECOND_OF_YEAR_9999) {
      return t.toString().getBytes(StandardCharsets.US_ASCII);
    }
    int nanos = t.getNano();
    int fraction = fractionDigits(nanos);
    byte[] out = new byte[isoInstantLength(t)];
    long day = Math.floorDiv(seconds, 86_400L);
    int ofDay = (int) Math.floorMod(seconds, 86_400L);
    LocalDate date = LocalDate.ofEpochDay(day);
    digits(out, 0, date.getYear(), 4);
    out[4] = '-';
    digits(out, 5, date.getMonthValue(), 2);
    out[7] = '-';
    digits(out, 8, date.getDayOfMonth(), 2);
    out[10] = 'T';
    digits(out, 11, ofDay / 3600, 2);
    out[13] = ':';
    digits(out, 14, ofDay / 60 % 60, 2);
    out[16] = ':';
    digits(out, 17, ofDay % 60, 2);
    int at = 19;
    if (fraction != 0) {
      out[at++] = '.';
      int value = fraction == 3 ? nanos / 1_000_000 : fraction == 6 ? nanos / 1_000 : nanos;
      digits(out, at, value, fraction);
      at += fraction;
    }
    out[at] = 'Z';
    return out;
  }

  /** The length of {@code t.toString()}, without writing it (a size check runs once per event). */
  public static int isoInstantLength(Instant t) {
    long seconds = t.getEpochSecond();
    if (seconds < FIRST_SECOND_OF_YEAR_0 || seconds > LAST_SECOND_OF_YEAR_9999) {
      return t.toString().length();
    }
    // 2026-11-27T10:15:30Z is 20 characters; a fraction adds a point and 3, 6 or 9 digits
    int fraction = fractionDigits(t.getNano());
    return 20 + (fraction == 0 ? 0 : fraction + 1);
  }

  private static int fractionDigits(int nanos) {
    return nanos == 0 ? 0 : nanos % 1_000_000 == 0 ? 3 : nanos % 1_000 == 0 ? 6 : 9;
  }

  /** {@code t.toString()}, by {@link #isoInstant(Instant)}. */
  public static String isoInstantText(Instant t) {
    return new String(isoInstant(t), StandardCharsets.US_ASCII);
  }

  private static void digits(byte[] out, int at, int value, int width) {
    for (int i = at + width - 1; i >= at; i--) {
      out[i] = (byte) ('0' + value % 10);
      value /= 10;
    }
  }

  /** The number of bytes {@code s} takes in UTF-8, without encoding it; 0 for {@code null}. */
  public static long utf8Length(String s) {
    if (s == null) {
      return 0;
    }
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
