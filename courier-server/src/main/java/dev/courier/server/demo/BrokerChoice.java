package dev.courier.server.demo;

import dev.courier.ConfigurationException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The broker the demo runs on and where to reach it: {@code --transport}, {@code --rabbitmq-uri}
 * and {@code --nats-url}. Kafka is reached through the {@code courier.kafka.*} settings (an
 * embedded broker when none is configured).
 *
 * @param kind the transport
 * @param rabbitMqUri the AMQP URI; used for {@link Kind#RABBITMQ} only
 * @param natsUrl the NATS server URL; used for {@link Kind#NATS} only
 */
record BrokerChoice(Kind kind, String rabbitMqUri, String natsUrl) {
  /** The local RabbitMQ with its default user, as a Debian or Docker install starts it. */
  static final String DEFAULT_RABBITMQ_URI = "amqp://guest:guest@127.0.0.1:5672";

  /** The local NATS server (it must run with JetStream, {@code -js}). */
  static final String DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

  /** The transports the demo can run on. */
  enum Kind {
    KAFKA("kafka"),
    RABBITMQ("rabbitmq"),
    NATS("nats");

    private final String option;

    Kind(String option) {
      this.option = option;
    }

    /** The name used on the command line and in the report. */
    String option() {
      return option;
    }
  }

  /** Kafka: the configured cluster, or an embedded broker. */
  static BrokerChoice kafka() {
    return new BrokerChoice(Kind.KAFKA, DEFAULT_RABBITMQ_URI, DEFAULT_NATS_URL);
  }

  /**
   * Reads the command-line options; {@code null} means the option was not given.
   *
   * @throws ConfigurationException naming the option, for an unknown transport or a broker URL
   *     given for another transport
   */
  static BrokerChoice parse(String transport, String rabbitMqUri, String natsUrl) {
    Kind kind = Kind.KAFKA;
    if (transport != null) {
      String wanted = transport.trim().toLowerCase(Locale.ROOT);
      kind =
          Arrays.stream(Kind.values())
              .filter(k -> k.option().equals(wanted))
              .findFirst()
              .orElseThrow(
                  () ->
                      new ConfigurationException(
                          "--transport",
                          "must be one of "
                              + Arrays.stream(Kind.values())
                                  .map(Kind::option)
                                  .collect(Collectors.joining(", "))
                              + ", was '"
                              + transport
                              + "'"));
    }
    if (rabbitMqUri != null && kind != Kind.RABBITMQ) {
      throw new ConfigurationException(
          "--rabbitmq-uri",
          "applies to --transport rabbitmq only (the transport is " + kind.option() + ")");
    }
    if (natsUrl != null && kind != Kind.NATS) {
      throw new ConfigurationException(
          "--nats-url",
          "applies to --transport nats only (the transport is " + kind.option() + ")");
    }
    return new BrokerChoice(
        kind,
        blankToDefault("--rabbitmq-uri", rabbitMqUri, DEFAULT_RABBITMQ_URI),
        blankToDefault("--nats-url", natsUrl, DEFAULT_NATS_URL));
  }

  private static String blankToDefault(String option, String value, String fallback) {
    if (value == null) {
      return fallback;
    }
    if (value.isBlank()) {
      throw new ConfigurationException(option, "must not be blank");
    }
    return value.trim();
  }
}
