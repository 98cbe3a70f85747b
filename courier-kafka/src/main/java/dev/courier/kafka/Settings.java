package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;

/**
 * Client properties as a builder collects them, and the checks that refuse settings which would
 * weaken a delivery guarantee. Values are never echoed in messages except those of the settings
 * checked here, none of which is secret.
 */
final class Settings {
  private Settings() {}

  /** One unsafe setting found in a configuration: its name and what it risks. */
  record Unsafe(String setting, String risk) {}

  /** A property value as lowercase trimmed text, or {@code null} when unset. */
  static String text(Map<String, Object> props, String key) {
    Object v = props.get(key);
    return v == null ? null : v.toString().trim().toLowerCase(Locale.ROOT);
  }

  /** Parses an integer property, naming it when it is not a number. */
  static Integer integer(Map<String, Object> props, String key) {
    String t = text(props, key);
    if (t == null) {
      return null;
    }
    try {
      return Integer.valueOf(t);
    } catch (NumberFormatException e) {
      throw new ConfigurationException(key, "must be an integer, was '" + t + "'");
    }
  }

  /** Copies user properties, refusing null names and values. */
  static Map<String, Object> copy(Map<String, ?> props) {
    Map<String, Object> out = new LinkedHashMap<>();
    props.forEach((k, v) -> put(out, k, v));
    return out;
  }

  /** Sets one property, refusing a null name or value. */
  static void put(Map<String, Object> props, String name, Object value) {
    Objects.requireNonNull(name, "property name");
    Objects.requireNonNull(value, () -> "value of property " + name);
    props.put(name, value);
  }

  /**
   * Refuses the first unsafe setting that was not explicitly allowed, and returns the ones that
   * were.
   *
   * @param known the settings that {@code allowUnsafe} may name
   * @param builder the builder class, for the override hint ({@code KafkaTransport.Builder})
   * @throws ConfigurationException if {@code allowed} names a setting that is not in {@code known}
   * @throws UnsafeConfigurationException for an unsafe setting not allowed
   */
  static List<Unsafe> enforce(
      List<Unsafe> found,
      Set<String> allowed,
      Set<String> known,
      String builder,
      String component) {
    for (String a : allowed) {
      if (!known.contains(a)) {
        throw new ConfigurationException(
            "allowUnsafe",
            "'"
                + a
                + "' is not a setting "
                + component
                + " refuses; the ones that can be allowed are "
                + known);
      }
    }
    List<Unsafe> accepted = new ArrayList<>();
    for (Unsafe u : found) {
      if (!allowed.contains(u.setting())) {
        throw new UnsafeConfigurationException(
            u.setting(), u.risk(), builder + ".allowUnsafe(\"" + u.setting() + "\")");
      }
      accepted.add(u);
    }
    return accepted;
  }

  /** Logs a warning naming the risk of each unsafe setting that was accepted. */
  static void warn(List<Unsafe> accepted, Logger log, String component) {
    for (Unsafe u : accepted) {
      log.warn(
          "{} runs with an unsafe setting accepted through allowUnsafe(\"{}\"): {}",
          component,
          u.setting(),
          u.risk());
    }
  }
}
