package dev.courier.server.config;

import dev.courier.ConfigurationException;
import dev.courier.internal.Durations;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns configuration text into typed values. Every failure is an {@link InvalidSettingException}
 * naming the key and the origin; the rejected text is quoted unless the setting is secret.
 */
final class ValueParser {
  private static final Pattern RATE =
      Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*(?:/\\s*(s|sec|second|m|min|minute|h|hour))?");
  private static final Pattern ONE_IN = Pattern.compile("1\\s*/\\s*([0-9]+)");

  private ValueParser() {}

  static int wholeNumber(Value v, int min, int max) {
    String text = v.text().strip();
    int n;
    try {
      n = Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw invalid(v, shown(v) + " is not a whole number");
    }
    if (n < min || n > max) {
      throw invalid(v, "must be between " + min + " and " + max + ", was " + n);
    }
    return n;
  }

  /**
   * A duration in Courier's one syntax ({@link Durations}: {@code 500ms}, {@code 30s}, {@code
   * 1m30s}, {@code 2h}, {@code 1d} or ISO-8601), between {@code min} and {@code max}. A bare number
   * other than {@code 0} is refused: seconds and milliseconds are too easily confused.
   */
  static Duration duration(Value v, Duration min, Duration max) {
    try {
      return Durations.parse(v.key(), v.text(), min, max);
    } catch (ConfigurationException e) {
      // the reason quotes the text, which a secret setting must never show
      throw invalid(
          v,
          v.secret()
              ? shown(v) + " is not a duration between " + human(min) + " and " + human(max)
              : e.reason());
    }
  }

  /**
   * A fraction between 0 and 1: {@code 0.02}, {@code 2%} or {@code 1/2000} (one in two thousand).
   */
  static double fraction(Value v) {
    String text = v.text().strip();
    double f;
    try {
      Matcher oneIn = ONE_IN.matcher(text);
      if (oneIn.matches()) {
        long n = Long.parseLong(oneIn.group(1));
        if (n == 0) {
          throw invalid(v, shown(v) + " divides by zero");
        }
        f = 1.0 / n;
      } else if (text.endsWith("%")) {
        f = new BigDecimal(text.substring(0, text.length() - 1).strip()).doubleValue() / 100.0;
      } else {
        f = new BigDecimal(text).doubleValue();
      }
    } catch (NumberFormatException e) {
      throw invalid(v, shown(v) + " is not a fraction; write it like 0.02, 2% or 1/50");
    }
    if (!(f >= 0.0 && f <= 1.0)) {
      throw invalid(v, "must be between 0 and 1 (0% to 100%), was " + v.text().strip());
    }
    return f;
  }

  /**
   * A rate in events per second: {@code 200} or {@code 200/s}, {@code 10000/min}, {@code 36000/h}.
   * A bare number is per second.
   */
  static double ratePerSecond(Value v, double maxPerSecond) {
    String text = v.text().strip().toLowerCase(Locale.ROOT);
    Matcher m = RATE.matcher(text);
    if (!m.matches()) {
      throw invalid(
          v, shown(v) + " is not a rate; write it like 200 (per second), 200/s or 10000/min");
    }
    double n = Double.parseDouble(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    double perSecond =
        switch (unit) {
          case "m", "min", "minute" -> n / 60.0;
          case "h", "hour" -> n / 3600.0;
          default -> n;
        };
    if (!(perSecond > 0.0) || perSecond > maxPerSecond) {
      throw invalid(
          v,
          "must be more than 0 and at most "
              + (long) maxPerSecond
              + " per second, was "
              + v.text().strip());
    }
    return perSecond;
  }

  static boolean bool(Value v) {
    return switch (v.text().strip().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on" -> true;
      case "false", "no", "off" -> false;
      default -> throw invalid(v, shown(v) + " is not true or false");
    };
  }

  /** The relay's claim mode: {@code lease}, {@code lock} or {@code log}, in any case. */
  static dev.courier.relay.Relay.ClaimMode claimMode(Value v) {
    return switch (v.text().strip().toLowerCase(Locale.ROOT)) {
      case "lease" -> dev.courier.relay.Relay.ClaimMode.LEASE;
      case "lock" -> dev.courier.relay.Relay.ClaimMode.LOCK;
      case "log" -> dev.courier.relay.Relay.ClaimMode.LOG;
      default -> throw invalid(v, shown(v) + " is not a claim mode: use lease, lock or log");
    };
  }

  /** {@code kafka}, {@code rabbitmq} or {@code nats}, in any case. */
  static TransportKind transport(Value v) {
    return TransportKind.of(v.text())
        .orElseThrow(
            () ->
                invalid(
                    v, shown(v) + " is not a transport: use one of " + TransportKind.choices()));
  }

  /** A comma-separated list of destinations, each 1 to 255 characters without control ones. */
  static java.util.List<String> destinations(Value v) {
    java.util.List<String> list = new java.util.ArrayList<>();
    for (String part : v.text().split(",")) {
      String d = part.strip();
      if (d.isEmpty()) {
        continue;
      }
      if (d.length() > 255 || d.chars().anyMatch(Character::isISOControl)) {
        throw invalid(
            v, "holds a destination that is not 1 to 255 characters without control characters");
      }
      list.add(d);
    }
    return java.util.List.copyOf(list);
  }

  /**
   * NATS server URLs, comma-separated, without user information: credentials belong in the secret
   * settings, so that no listing shows them. The value is never quoted in the error, since it may
   * hold a token.
   */
  static String natsUrls(Value v) {
    String text = text(v);
    for (String part : text.split(",")) {
      String u = part.strip();
      int scheme = u.indexOf("://");
      if (u.indexOf('@', scheme < 0 ? 0 : scheme + 3) >= 0) {
        throw invalid(
            v,
            "holds credentials (user information before '@'); set courier.nats.token, or"
                + " courier.nats.user and courier.nats.password, instead (the value is not shown)");
      }
    }
    return text;
  }

  /** A string that must not be blank. */
  static String text(Value v) {
    String text = v.text().strip();
    if (text.isEmpty()) {
      throw invalid(v, "must not be blank");
    }
    return text;
  }

  static InvalidSettingException invalid(Value v, String message) {
    return new InvalidSettingException(v.key(), v.origin(), message);
  }

  /** The rejected value in quotes, or a placeholder for secrets. */
  static String shown(Value v) {
    if (v.secret()) {
      return "the value (hidden)";
    }
    String t = v.text().strip();
    if (t.length() > 60) {
      t = t.substring(0, 60) + "...";
    }
    return "'" + t.replaceAll("\\p{Cntrl}", "?") + "'";
  }

  /** A duration as {@link #duration} reads it: {@code 500ms}, {@code 90s}, {@code 5m}. */
  static String human(Duration d) {
    return Durations.format(d);
  }
}
