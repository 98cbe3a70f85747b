package dev.courier.nats;

import java.time.Duration;
import java.util.Locale;

/**
 * Durations as people read them in messages: {@code 2m}, {@code 8m31s}, {@code 500ms}. Settings
 * are read with {@link dev.courier.internal.Durations}.
 */
final class DurationText {
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
}
