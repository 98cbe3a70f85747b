package dev.courier.internal;

import dev.courier.ConfigurationException;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one duration syntax of every Courier setting and command-line option, documented in {@code
 * docs/CONFIGURATION.md} under "Value formats". Public only so that the adapters, the server and
 * the tools share it; not part of the API.
 *
 * <p>Accepted, in any letter case:
 *
 * <ul>
 *   <li>a whole number with a unit, {@code ms}, {@code s}, {@code m}, {@code h} or {@code d}
 *       (a day is 24 hours): {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 1d};
 *   <li>several of those, largest unit first and each unit once: {@code 1m30s}, {@code 1h5m},
 *       {@code 2s500ms};
 *   <li>ISO-8601 as {@link Duration#parse} reads it: {@code PT30S}, {@code PT1M30S}, {@code P1D};
 *   <li>a bare {@code 0}, which is zero in any unit.
 * </ul>
 *
 * <p>Refused, each with a {@link ConfigurationException} that names the setting: any other bare
 * number (seconds and milliseconds are too easily confused), fractions ({@code 1.5s}: write
 * {@code 1500ms}), negative durations, and durations too large for {@link Duration}. Whether zero
 * is allowed, and which range, is the caller's rule, given as a parameter.
 *
 * <p>Stateless and thread-safe.
 */
public final class Durations {
  /** The accepted forms, for messages and usage texts. */
  public static final String FORMS =
      "a whole number with a unit: ms, s, m, h or d (500ms, 30s, 1m30s, 2h), or ISO-8601 (PT30S)";

  private static final Pattern PART = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)\\s*");
  private static final Pattern DIGITS = Pattern.compile("\\d+");
  private static final Pattern ZERO = Pattern.compile("0+");
  private static final Pattern FRACTION = Pattern.compile("(\\d*\\.\\d+)\\s*(ms|s|m|h|d)");

  private Durations() {}

  /**
   * Reads a duration of zero or more.
   *
   * @param setting the setting's or option's name, for the error
   * @param text the value as given; surrounding white space is ignored
   * @throws ConfigurationException naming the setting when the text is not a duration in the
   *     syntax above, or is negative
   */
  public static Duration parse(String setting, String text) {
    Objects.requireNonNull(setting, "setting");
    String t = text == null ? "" : text.strip();
    if (t.isEmpty()) {
      throw new ConfigurationException(setting, "is empty; write " + FORMS);
    }
    if (t.startsWith("-")) {
      if (read(setting, t.substring(1), t).isZero()) {
        return Duration.ZERO;
      }
      throw negative(setting, t);
    }
    Duration d = read(setting, t, t);
    if (d.isNegative()) {
      throw negative(setting, t);
    }
    return d;
  }

  /**
   * Reads a duration of more than zero.
   *
   * @throws ConfigurationException naming the setting as {@link #parse(String, String)} does, and
   *     when the duration is zero
   */
  public static Duration parsePositive(String setting, String text) {
    Duration d = parse(setting, text);
    if (d.isZero()) {
      throw new ConfigurationException(setting, "must be more than zero, was " + quoted(text));
    }
    return d;
  }

  /**
   * Reads a duration between {@code min} and {@code max}, both included.
   *
   * @throws ConfigurationException naming the setting as {@link #parse(String, String)} does, and
   *     when the duration is outside the range, which the message states
   */
  public static Duration parse(String setting, String text, Duration min, Duration max) {
    Duration d = parse(setting, text);
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      throw new ConfigurationException(
          setting,
          "must be between " + format(min) + " and " + format(max) + ", was " + format(d));
    }
    return d;
  }

  /**
   * A duration in the syntax {@link #parse} reads, in the largest unit that holds it exactly:
   * {@code 0s}, {@code 500ms}, {@code 90s}, {@code 5m}, {@code 2h}, {@code 1d}; ISO-8601 when it
   * has a part smaller than a millisecond.
   */
  public static String format(Duration d) {
    if (d.isNegative()) {
      return "-" + format(d.negated());
    }
    if (d.isZero()) {
      return "0s";
    }
    if (d.getNano() % 1_000_000 != 0) {
      return d.toString();
    }
    long seconds = d.getSeconds();
    if (d.getNano() != 0) {
      return seconds > Long.MAX_VALUE / 1000 ? d.toString() : d.toMillis() + "ms";
    }
    if (seconds % 86_400 == 0) {
      return seconds / 86_400 + "d";
    }
    if (seconds % 3600 == 0) {
      return seconds / 3600 + "h";
    }
    if (seconds % 60 == 0) {
      return seconds / 60 + "m";
    }
    return seconds + "s";
  }

  /** {@code t} without a sign; {@code shown} is the text as given, for the message. */
  private static Duration read(String setting, String t, String shown) {
    String lower = t.toLowerCase(Locale.ROOT);
    if (lower.startsWith("p")) {
      try {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      } catch (DateTimeParseException e) {
        if (e.getCause() instanceof ArithmeticException
            || e.getCause() instanceof NumberFormatException) {
          throw tooLarge(setting, shown);
        }
        throw new ConfigurationException(
            setting, quoted(shown) + " is not an ISO-8601 duration; write " + FORMS);
      }
    }
    if (ZERO.matcher(lower).matches()) {
      return Duration.ZERO;
    }
    if (DIGITS.matcher(lower).matches()) {
      String n = Text.printable(lower);
      throw new ConfigurationException(
          setting,
          quoted(shown)
              + " has no unit; write it like "
              + n
              + "s or "
              + n
              + "ms (units: ms, s, m, h, d)");
    }
    Matcher fraction = FRACTION.matcher(lower);
    if (fraction.matches()) {
      throw new ConfigurationException(
          setting, quoted(shown) + " is not a whole number" + inMillis(fraction));
    }
    Matcher m = PART.matcher(lower);
    Duration total = Duration.ZERO;
    int rank = -1;
    int at = 0;
    try {
      while (at < lower.length()) {
        m.region(at, lower.length());
        if (!m.lookingAt()) {
          throw notADuration(setting, shown);
        }
        int r = rank(m.group(2));
        if (r <= rank) {
          throw new ConfigurationException(
              setting,
              quoted(shown) + " repeats a unit or puts a smaller one first; write " + FORMS);
        }
        rank = r;
        total = total.plus(of(Long.parseLong(m.group(1)), m.group(2)));
        at = m.end();
      }
    } catch (NumberFormatException | ArithmeticException e) {
      throw tooLarge(setting, shown);
    }
    return total;
  }

  private static Duration of(long n, String unit) {
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** Larger units rank lower: parts must come largest first. */
  private static int rank(String unit) {
    return switch (unit) {
      case "d" -> 0;
      case "h" -> 1;
      case "m" -> 2;
      case "s" -> 3;
      default -> 4;
    };
  }

  /** The hint for a fraction: the same duration in whole milliseconds, when it is one. */
  private static String inMillis(Matcher fraction) {
    long unitMillis =
        switch (fraction.group(2)) {
          case "ms" -> 1;
          case "s" -> 1000;
          case "m" -> 60_000;
          case "h" -> 3_600_000;
          default -> 86_400_000;
        };
    try {
      BigDecimal ms = new BigDecimal(fraction.group(1)).multiply(BigDecimal.valueOf(unitMillis));
      return "; write it in a smaller unit, like " + ms.toBigIntegerExact() + "ms";
    } catch (ArithmeticException e) {
      return "; write " + FORMS;
    }
  }

  private static ConfigurationException notADuration(String setting, String shown) {
    return new ConfigurationException(
        setting, quoted(shown) + " is not a duration; write " + FORMS);
  }

  private static ConfigurationException negative(String setting, String shown) {
    return new ConfigurationException(setting, quoted(shown) + " is negative; write zero or more");
  }

  private static ConfigurationException tooLarge(String setting, String shown) {
    return new ConfigurationException(setting, quoted(shown) + " is too large");
  }

  private static String quoted(String text) {
    return "'" + Text.printable(text == null ? "" : text.strip()) + "'";
  }
}
