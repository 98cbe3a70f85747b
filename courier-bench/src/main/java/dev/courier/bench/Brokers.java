package dev.courier.bench;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import dev.courier.nats.JetStreamTransport;
import dev.courier.rabbitmq.RabbitMqTransport;
import io.nats.client.Nats;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machine's RabbitMQ and NATS servers, as every workload that uses them reaches them: where they
 * are, Courier's transport to each with the benchmark's settings, a plain client connection, and
 * removing what a measurement declared on them.
 */
final class Brokers {
  private static final Logger log = LoggerFactory.getLogger(Brokers.class);
  static final String RABBIT_HOST = "127.0.0.1";
  static final int RABBIT_PORT = 5672;
  static final String NATS_HOST = "127.0.0.1";
  static final int NATS_PORT = 4222;
  static final String NATS_URL = "nats://" + NATS_HOST + ":" + NATS_PORT;

  private Brokers() {}

  static boolean rabbitAnswers() {
    return reachable(RABBIT_HOST, RABBIT_PORT);
  }

  static boolean natsAnswers() {
    return reachable(NATS_HOST, NATS_PORT);
  }

  /** Courier's RabbitMQ transport at its defaults (quorum queues, publisher confirms, persistent). */
  static RabbitMqTransport rabbitTransport(String connectionName) {
    return RabbitMqTransport.builder()
        .host(RABBIT_HOST)
        .port(RABBIT_PORT)
        .username("guest")
        .password("guest")
        .connectionName(connectionName)
        .build();
  }

  /** A plain AMQP connection, without automatic recovery. */
  static com.rabbitmq.client.Connection rabbitConnection(String connectionName) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(RABBIT_HOST);
    f.setPort(RABBIT_PORT);
    f.setUsername("guest");
    f.setPassword("guest");
    f.setAutomaticRecoveryEnabled(false);
    return f.newConnection(connectionName);
  }

  /**
   * Deletes what {@link RabbitMqTransport#declareTopology(String, String)} declares for {@code
   * exchange} and {@code queue}: the queue, its dead-letter queue, the exchange and its dead-letter
   * exchange.
   */
  static void deleteRabbitTopology(Channel channel, String exchange, String queue) throws IOException {
    channel.queueDelete(queue);
    channel.queueDelete(RabbitMqTransport.deadLetterQueueName(queue));
    channel.exchangeDelete(exchange);
    channel.exchangeDelete(RabbitMqTransport.deadLetterExchangeName(exchange));
  }

  /** {@link #deleteRabbitTopology(Channel, String, String)} on a connection of its own; a failure is logged. */
  static void deleteRabbitTopology(String exchange, String queue) {
    try (com.rabbitmq.client.Connection c = rabbitConnection("courier-bench-cleanup")) {
      deleteRabbitTopology(c.createChannel(), exchange, queue);
    } catch (Exception e) {
      log.warn("could not delete RabbitMQ exchange {} and queue {}: {}", exchange, queue, e.toString());
    }
  }

  /** Courier's JetStream transport at its defaults (streams it creates: file storage, one replica). */
  static JetStreamTransport jetStreamTransport(String connectionName) {
    return JetStreamTransport.builder().servers(NATS_URL).connectionName(connectionName).build();
  }

  /** Deletes {@code stream} on a connection of its own; a failure is logged. */
  static void deleteStream(String stream) {
    try (io.nats.client.Connection c = Nats.connect(NATS_URL)) {
      c.jetStreamManagement().deleteStream(stream);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      log.warn("could not delete JetStream stream {}: {}", stream, e.toString());
    }
  }

  private static boolean reachable(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 2_000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
