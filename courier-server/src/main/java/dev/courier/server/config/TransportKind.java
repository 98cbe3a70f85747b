package dev.courier.server.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/** The brokers the {@code courier} command publishes to ({@code courier.relay.transport}). */
public enum TransportKind {
  KAFKA("kafka", "Kafka"),
  RABBITMQ("rabbitmq", "RabbitMQ"),
  NATS("nats", "NATS JetStream");

  private final String option;
  private final String displayName;

  TransportKind(String option, String displayName) {
    this.option = option;
    this.displayName = displayName;
  }

  /** The name in settings, options and metrics: {@code kafka}, {@code rabbitmq}, {@code nats}. */
  public String option() {
    return option;
  }

  /** The broker's name for people: {@code RabbitMQ}. */
  public String displayName() {
    return displayName;
  }

  /** The transport with this name, in any case. */
  public static Optional<TransportKind> of(String name) {
    String wanted = name.strip().toLowerCase(Locale.ROOT);
    return Arrays.stream(values()).filter(k -> k.option.equals(wanted)).findFirst();
  }

  /** {@code kafka, rabbitmq, nats}, for messages. */
  public static String choices() {
    return Arrays.stream(values()).map(TransportKind::option).collect(Collectors.joining(", "));
  }
}
