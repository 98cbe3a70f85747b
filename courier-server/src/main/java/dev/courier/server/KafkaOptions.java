package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import picocli.CommandLine.Option;

/** Kafka options. */
final class KafkaOptions {
  @Option(
      names = "--kafka-bootstrap-servers",
      paramLabel = "HOST:PORT[,...]",
      description = "Kafka bootstrap servers (courier.kafka.bootstrap-servers).")
  String bootstrapServers;

  CourierConfig.Loader apply(CourierConfig.Loader loader) {
    return loader.option(
        Setting.KAFKA_BOOTSTRAP_SERVERS, "--kafka-bootstrap-servers", bootstrapServers);
  }
}
