package dev.courier.server.config;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * How to reach Kafka.
 *
 * @param bootstrapServers the {@code bootstrap.servers} list, or {@code null} when none is
 *     configured (the demo then starts an embedded broker)
 * @param properties extra Kafka client properties ({@code courier.kafka.property.*}); secret ones
 *     are masked by {@link #toString()}
 */
public record KafkaSettings(String bootstrapServers, Map<String, String> properties) {
  public KafkaSettings {
    properties = Map.copyOf(properties);
  }

  public Optional<String> configuredBootstrapServers() {
    return Optional.ofNullable(bootstrapServers);
  }

  @Override
  public String toString() {
    Map<String, String> shown = new TreeMap<>();
    properties.forEach(
        (k, v) -> shown.put(k, Setting.isSecretKafkaProperty(k) ? Masking.SECRET : v));
    return "KafkaSettings[bootstrapServers=" + bootstrapServers + ", properties=" + shown + "]";
  }
}
