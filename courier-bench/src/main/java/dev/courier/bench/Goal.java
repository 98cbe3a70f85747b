package dev.courier.bench;

import java.util.Locale;

/**
 * The target a figure is held to, from issue 7: a ratio of at least a threshold, or a latency of at
 * most one.
 *
 * @param threshold the bound
 * @param atLeast true for "≥ threshold", false for "≤ threshold"
 */
public record Goal(double threshold, boolean atLeast) {

  public static Goal atLeast(double threshold) {
    return new Goal(threshold, true);
  }

  public static Goal atMost(double threshold) {
    return new Goal(threshold, false);
  }

  /** Whether {@code value} meets the goal. */
  public boolean isMetBy(double value) {
    return atLeast ? value >= threshold : value <= threshold;
  }

  @Override
  public String toString() {
    return (atLeast ? "≥ " : "≤ ") + String.format(Locale.ROOT, "%s", trim(threshold));
  }

  private static String trim(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }
}
