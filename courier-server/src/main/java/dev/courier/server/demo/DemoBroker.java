package dev.courier.server.demo;

import dev.courier.server.config.CourierConfig;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The broker of one demo run, behind the transport SPI: the demo publishes through {@link
 * #transport()} and subscribes its consumers through it, whichever broker it is. What differs is
 * here: reaching or starting the broker, creating the run's topic, exchange and queues or stream
 * before anything is published, telling when the consumers have caught up, counting what the broker
 * holds, and removing the run's objects afterwards.
 *
 * <p>Every run uses a destination of its own on a shared broker (the run id is appended), so that
 * earlier runs' messages are never counted.
 */
abstract sealed class DemoBroker implements AutoCloseable
    permits KafkaDemoBroker, RabbitMqDemoBroker, NatsDemoBroker {

  /** How long the demo waits for a broker's port before calling it unreachable. */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);

  /**
   * Reaches (or, for Kafka without a configured cluster, starts) the chosen broker.
   *
   * @param keep whether the run's broker objects stay after the run, like its schema
   * @param say prints a progress line
   * @throws BrokerUnreachableException if the broker does not answer
   */
  static DemoBroker open(
      BrokerChoice choice,
      CourierConfig config,
      String runId,
      boolean keep,
      MeterRegistry registry,
      Consumer<String> say) {
    return switch (choice.kind()) {
      case KAFKA -> KafkaDemoBroker.open(config, runId, say);
      case RABBITMQ -> RabbitMqDemoBroker.open(choice.rabbitMqUri(), config, runId, keep);
      case NATS -> NatsDemoBroker.open(choice.natsUrl(), config, runId, keep, registry);
    };
  }

  /** {@code kafka}, {@code rabbitmq} or {@code nats}. */
  abstract String name();

  /** Where the broker is, for the console. */
  abstract String description();

  /** The destination the run's events are published to. */
  abstract String destination();

  /** The destination with its kind, for the report: {@code topic 'orders'}. */
  abstract String destinationDescription();

  /** The transport the relay publishes through; whoever wraps it closes it. */
  abstract Transport transport();

  /**
   * Creates what must exist before the first publish: the topic, the exchange with every consumer's
   * queue (RabbitMQ keeps a message only for the queues bound when it arrives), or the stream.
   * Returns a line for the console.
   */
  abstract String prepare(List<String> consumers);

  /** The subscription of instance {@code instance} (from 1) of a consumer. */
  abstract SubscriptionSpec subscription(String consumer, int instance);

  /**
   * Messages the broker still holds for a consumer: not yet delivered, or (where the broker can
   * tell) delivered and not yet acknowledged. Zero once the consumer has caught up.
   */
  abstract long backlog(String consumer);

  /**
   * What the broker side of the run shows, read after the relay and the consumers stopped.
   *
   * @param rolledBack ids of the events whose transaction rolled back
   * @param rolledBackHandled rolled-back events the consumers' handlers were handed
   */
  abstract DemoReport.Wire census(Set<UUID> rolledBack, long rolledBackHandled);

  /** Removes the run's broker objects unless kept, and stops what the demo started. */
  @Override
  public abstract void close();

  /**
   * Opens and closes a TCP connection to {@code host:port}, so that a missing broker is reported at
   * once and plainly, instead of through a client's reconnect loop.
   *
   * @param what the broker, for a person: {@code RabbitMQ}
   * @param shown the address as the user gave it, secrets masked
   * @param how how to start one there, or to point the demo elsewhere
   * @throws BrokerUnreachableException if no connection can be opened
   */
  static void requireReachable(String what, String host, int port, String shown, String how) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), (int) CONNECT_TIMEOUT.toMillis());
    } catch (IOException | IllegalArgumentException e) {
      throw unreachable(what, shown, e, how);
    }
  }

  static BrokerUnreachableException unreachable(
      String what, String shown, Throwable why, String how) {
    String reason = why.getMessage() == null ? why.getClass().getSimpleName() : why.getMessage();
    return new BrokerUnreachableException(
        what + " is not reachable at " + shown + " (" + reason + "). " + how, why);
  }
}
