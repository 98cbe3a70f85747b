package dev.courier.server;

import dev.courier.ConfigurationException;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import picocli.CommandLine.Option;

/** Which broker the relay publishes to, and where RabbitMQ and NATS are. */
final class TransportOptions {
  @Option(
      names = "--transport",
      paramLabel = "kafka|rabbitmq|nats",
      description = "The broker to publish to (courier.relay.transport, default kafka).")
  String transport;

  @Option(
      names = "--rabbitmq-uri",
      paramLabel = "URI",
      description =
          "RabbitMQ, amqp://USER@HOST:5672/VHOST (courier.rabbitmq.uri). A password does not"
              + " belong on the command line: set COURIER_RABBITMQ_PASSWORD.")
  String rabbitMqUri;

  @Option(
      names = "--nats-url",
      paramLabel = "URL[,URL...]",
      description =
          "NATS servers with JetStream, nats://HOST:4222 (courier.nats.url). Credentials go in"
              + " COURIER_NATS_TOKEN, COURIER_NATS_USER and COURIER_NATS_PASSWORD, or"
              + " COURIER_NATS_CREDENTIALS_FILE.")
  String natsUrl;

  CourierConfig.Loader apply(CourierConfig.Loader loader) {
    if (rabbitMqUri != null && Components.holdsPassword(rabbitMqUri)) {
      // other users of the machine can read a process's command line (ps, /proc)
      throw new ConfigurationException(
          "--rabbitmq-uri",
          "holds a password, which other users can read from the command line; set it with"
              + " environment variable "
              + Setting.RABBITMQ_PASSWORD.envVariable()
              + " or in the --config file ("
              + Setting.RABBITMQ_PASSWORD.key()
              + ") instead");
    }
    return loader
        .option(Setting.RELAY_TRANSPORT, "--transport", transport)
        .option(Setting.RABBITMQ_URI, "--rabbitmq-uri", rabbitMqUri)
        .option(Setting.NATS_URL, "--nats-url", natsUrl);
  }
}
