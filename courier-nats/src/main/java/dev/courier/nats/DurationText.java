package dev.courier.nats;

import dev.courier.ConfigurationException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as people write them in settings and read them in messages: {@code 2m}, {@code 8m31s},
 * {@code 500ms}.
 */
final class DurationText {
  private static final Pattern SIMPLE = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h)");

  private DurationText() {}

  /**
   * {@code 2m}, {@code 17m}, {@code 8m31s}, {@code 1h5m}, {@code 2s}, {@code 1.5s}, {@code 500ms}.
   */
  static String format(Duration d) {
    if (d.isNegative()) {
      return "-" + format(d.negated());
    }
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + "ms";
    }
    if (ms < 60_000 && ms % 1000 != 0) {
      return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
    }
    long seconds = ms / 1000;
    long h = seconds / 3600;
    long m = (seconds % 3600) / 60;
    long s = seconds % 60;
    StringBuilder sb = new StringBuilder();
    if (h > 0) {
      sb.append(h).append('h');
    }
    if (m > 0) {
      sb.append(m).append('m');
    }
    if (s > 0 || sb.isEmpty()) {
      sb.append(s).append('s');
    }
    return sb.toString();
  }

  /**
   * Parses {@code 500ms}, {@code 2s}, {@code 5m}, {@code 1h} or an ISO-8601 duration ({@code
   * PT2S}).
   *
   * @param setting the setting's name, for the error
   * @throws ConfigurationException naming the setting when the text is not a duration
   */
  static Duration parse(String setting, String text) {
    String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
    Matcher m = SIMPLE.matcher(t);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }
    try {
      return Duration.parse(t.toUpperCase(Locale.ROOT));
    } catch (DateTimeParseException e) {
      throw new ConfigurationException(
          setting, "must be a duration such as 500ms, 30s, 5m or PT30S, was '" + text + "'");
    }
  }
}
