package dev.courier.server.config;

import java.time.Duration;

/** Formats values for people: durations as the configuration writes them. */
public final class ValueFormat {
  private ValueFormat() {}

  /** An age such as {@code 0s}, {@code 42s}, {@code 5m 3s}, {@code 2h 10m} or {@code 3d 4h}. */
  public static String age(Duration d) {
    long s = Math.max(0, d.toSeconds());
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return s / 60 + "m " + s % 60 + "s";
    }
    if (s < 86_400) {
      return s / 3600 + "h " + s % 3600 / 60 + "m";
    }
    return s / 86_400 + "d " + s % 86_400 / 3600 + "h";
  }
}
