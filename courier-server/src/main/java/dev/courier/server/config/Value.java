package dev.courier.server.config;

import java.util.Objects;

/**
 * One configuration value as written, before parsing, with where it came from.
 *
 * @param key the configuration key
 * @param text the value as written
 * @param origin where it was set
 * @param secret whether the value must never be shown
 */
public record Value(String key, String text, Origin origin, boolean secret) {
  public Value {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(text, "text");
    Objects.requireNonNull(origin, "origin");
  }

  @Override
  public String toString() {
    return key
        + "="
        + (secret ? Masking.SECRET : Masking.url(text))
        + " ("
        + origin.describe()
        + ")";
  }
}
