package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.slf4j.Logger;

/**
 * Client properties as a builder collects them, and the checks that refuse settings which would
 * weaken a delivery guarantee. Values are never echoed in messages except those of the settings
 * checked here, none of which is secret.
 */
final class Settings {
  private Settings() {}

  /** The largest record a transport may be configured for. */
  static final int MAX_RECORD_BYTES_LIMIT = 64 * 1024 * 1024;

  private static final int KAFKA_DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024;
  private static final int REQUEST_OVERHEAD = 64 * 1024;

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

  /**
   * A copy of a producer's properties, with the bootstrap servers required and the serializers
   * refused: events travel as the bytes they are.
   *
   * @param sender what sends the records ("the transport"), for the message
   */
  static Map<String, Object> producerProperties(Map<String, Object> properties, String sender) {
    Map<String, Object> props = new LinkedHashMap<>(properties);
    String bootstrap = text(props, ProducerConfig.BOOTSTRAP_SERVERS_CONFIG);
    if (bootstrap == null || bootstrap.isEmpty()) {
      throw new ConfigurationException(
          "bootstrapServers", "is required: the Kafka brokers to connect to");
    }
    for (String fixed :
        List.of(
            ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG,
            ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG)) {
      if (props.containsKey(fixed)) {
        throw new ConfigurationException(
            fixed,
            "cannot be set: " + sender + " sends the event's key and payload bytes as they are");
      }
    }
    return props;
  }

  /**
   * Checks a transport's record limit and close timeout, and makes the producer's {@code
   * max.request.size} fit the largest record: raised when unset, refused when set below it.
   */
  static void checkRecordLimits(
      Map<String, Object> props, int maxRecordBytes, Duration closeTimeout) {
    if (maxRecordBytes < 1 || maxRecordBytes > MAX_RECORD_BYTES_LIMIT) {
      throw new ConfigurationException(
          "maxRecordBytes",
          "must be between 1 and " + MAX_RECORD_BYTES_LIMIT + " bytes, was " + maxRecordBytes);
    }
    if (closeTimeout == null || closeTimeout.isNegative()) {
      throw new ConfigurationException(
          "closeTimeout", "must be zero or positive, was " + closeTimeout);
    }
    Integer maxRequest = integer(props, ProducerConfig.MAX_REQUEST_SIZE_CONFIG);
    if (maxRequest == null) {
      props.put(
          ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
          Math.max(KAFKA_DEFAULT_MAX_REQUEST_SIZE, maxRecordBytes + REQUEST_OVERHEAD));
    } else if (maxRequest < maxRecordBytes) {
      throw new ConfigurationException(
          ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
          "must be >= maxRecordBytes ("
              + maxRecordBytes
              + "), was "
              + maxRequest
              + "; the producer would refuse records the transport accepts");
    }
  }

  /**
   * Fills in the producer defaults every Courier producer shares: {@code acks=all}, {@code
   * enable.idempotence=true}, {@code max.in.flight.requests.per.connection=5}, {@code
   * retries=MAX}, {@code delivery.timeout.ms=30000}, {@code request.timeout.ms=15000}, {@code
   * linger.ms} as given, {@code max.block.ms=10000}.
   */
  static void producerDefaults(Map<String, Object> props, int lingerMs) {
    props.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
    props.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.putIfAbsent(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
    props.putIfAbsent(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
    props.putIfAbsent(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
    props.putIfAbsent(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
    props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, lingerMs);
    props.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
  }
}
