package dev.courier.server.demo;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.PossibleAuthenticationFailureException;
import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.server.Components;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Masking;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo on RabbitMQ: a topic exchange named after the run, one quorum queue per consumer bound
 * to it, declared before the first publish (RabbitMQ keeps a message only for the queues bound when
 * it arrives). A connection of the demo's own asks how many messages are still queued and removes
 * the exchanges and queues afterwards, unless the run is kept.
 *
 * <p>A queue cannot be read back without consuming it, so the report counts duplicates where they
 * arrive: at the consumers.
 */
final class RabbitMqDemoBroker extends DemoBroker {
  private static final Logger log = LoggerFactory.getLogger(RabbitMqDemoBroker.class);
  private static final String HOW =
      "Start a local broker (Debian/Ubuntu: sudo apt-get install rabbitmq-server, then sudo"
          + " rabbitmq-server -detached; Docker: docker run -d -p 5672:5672 rabbitmq:3), or point"
          + " the demo at one with --rabbitmq-uri amqp://USER:PASSWORD@HOST:5672/VHOST.";

  private final String shown;
  private final String exchange;
  private final boolean keep;
  private final Connection admin;
  private final RabbitMqTransport transport;
  private final List<String> queues = new CopyOnWriteArrayList<>();

  private RabbitMqDemoBroker(
      String shown, String exchange, boolean keep, Connection admin, RabbitMqTransport transport) {
    this.shown = shown;
    this.exchange = exchange;
    this.keep = keep;
    this.admin = admin;
    this.transport = transport;
  }

  static RabbitMqDemoBroker open(String uri, CourierConfig config, String runId, boolean keep) {
    String shown = Masking.url(uri);
    RabbitMqTransport transport;
    try {
      transport = Components.rabbitMqTransport(uri, config.rabbitMq(), "courier-demo-" + runId);
    } catch (ConfigurationException e) {
      throw new ConfigurationException("--rabbitmq-uri", e.getMessage());
    }
    URI parsed = URI.create(uri.trim());
    boolean tls = "amqps".equalsIgnoreCase(parsed.getScheme());
    int port = parsed.getPort() != -1 ? parsed.getPort() : (tls ? 5671 : 5672);
    try {
      requireReachable("RabbitMQ", parsed.getHost(), port, shown, HOW);
      Connection admin = connect(uri, shown, runId);
      return new RabbitMqDemoBroker(
          shown, config.demo().topic() + "-" + runId, keep, admin, transport);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  private static Connection connect(String uri, String shown, String runId) {
    ConnectionFactory f = new ConnectionFactory();
    try {
      f.setUri(uri.trim());
    } catch (URISyntaxException | GeneralSecurityException | IllegalArgumentException e) {
      throw new ConfigurationException(
          "--rabbitmq-uri",
          "is not a usable AMQP URI (the value is not shown: it may hold a password)");
    }
    f.setConnectionTimeout((int) CONNECT_TIMEOUT.toMillis());
    f.setAutomaticRecoveryEnabled(false);
    try {
      return f.newConnection("courier-demo-admin-" + runId);
    } catch (PossibleAuthenticationFailureException e) {
      throw new ConfigurationException(
          "--rabbitmq-uri",
          "RabbitMQ at "
              + shown
              + " refused the user name or password (the default is guest/guest, which RabbitMQ"
              + " accepts from localhost only)");
    } catch (IOException | TimeoutException e) {
      throw unreachable("RabbitMQ", shown, e, HOW);
    }
  }

  @Override
  String name() {
    return "rabbitmq";
  }

  @Override
  String description() {
    return "RabbitMQ at " + shown;
  }

  @Override
  String destination() {
    return exchange;
  }

  @Override
  String destinationDescription() {
    return "exchange '" + exchange + "'";
  }

  @Override
  Transport transport() {
    return transport;
  }

  @Override
  String prepare(List<String> consumers) {
    for (String consumer : consumers) {
      queues.add(transport.declareTopology(exchange, consumer));
    }
    return "RabbitMQ: "
        + shown
        + ", exchange "
        + exchange
        + ", quorum queues "
        + String.join(", ", queues)
        + " (declared before the first publish)"
        + (keep ? "; kept after the run" : "");
  }

  @Override
  SubscriptionSpec subscription(String consumer, int instance) {
    return SubscriptionSpec.of(exchange);
  }

  /**
   * Messages ready in the consumer's queue. Messages delivered and not yet acknowledged are not
   * counted (AMQP does not tell); the drain also waits for the deliveries to stop.
   */
  @Override
  long backlog(String consumer) {
    return ready(RabbitMqTransport.queueName(exchange, consumer));
  }

  private long ready(String queue) {
    try (Channel ch = admin.createChannel()) {
      return ch.queueDeclarePassive(queue).getMessageCount();
    } catch (IOException | TimeoutException | RuntimeException e) {
      throw new CourierException("cannot read the depth of queue " + queue + ": " + e, e);
    }
  }

  @Override
  DemoReport.Wire census(Set<UUID> rolledBack, long rolledBackHandled) {
    long left = 0;
    long deadLettered = 0;
    for (String q : queues) {
      left += ready(q);
      deadLettered += ready(RabbitMqTransport.deadLetterQueueName(q));
    }
    List<String> caveats = new ArrayList<>();
    caveats.add(
        "no deduplication by the broker: an event republished after a dropped confirmation is a"
            + " second message in every queue, absorbed by the consumers' ledgers; a queue cannot"
            + " be read back without consuming it, so duplicates are counted where they arrive.");
    caveats.add(
        "no per-key order under retries: a message waiting for a retry, and the unacknowledged"
            + " messages of a crashed consumer, go back to the queue behind later messages,"
            + " including messages with the same key.");
    caveats.add(
        "a confirm means every bound queue has the message; on a single-node broker that is one"
            + " copy.");
    return new DemoReport.Wire(
        name(),
        destinationDescription(),
        List.of(
            new DemoReport.Fact(
                "messages left in the queues", DemoReport.n(left), "ready, never consumed"),
            new DemoReport.Fact(
                "messages the broker dead-lettered",
                DemoReport.n(deadLettered),
                "over x-delivery-limit, in the .dead-letter queues")),
        rolledBackHandled,
        "checked as the consumers received them",
        caveats);
  }

  /** Closes the transport, then removes the run's queues and exchanges unless kept. */
  @Override
  public void close() {
    transport.close();
    if (!keep) {
      List<String> failed = new ArrayList<>();
      for (String q : queues) {
        delete(failed, "queue " + q, ch -> ch.queueDelete(q));
        String dlq = RabbitMqTransport.deadLetterQueueName(q);
        delete(failed, "queue " + dlq, ch -> ch.queueDelete(dlq));
      }
      delete(failed, "exchange " + exchange, ch -> ch.exchangeDelete(exchange));
      String dlx = RabbitMqTransport.deadLetterExchangeName(exchange);
      delete(failed, "exchange " + dlx, ch -> ch.exchangeDelete(dlx));
      if (failed.isEmpty()) {
        log.info("deleted exchange {} and its queues {}", exchange, queues);
      } else {
        log.warn("could not delete {}", String.join(", ", failed));
      }
    }
    try {
      admin.close(5_000);
    } catch (IOException | RuntimeException e) {
      admin.abort(1_000);
    }
  }

  private interface ChannelAction {
    void run(Channel ch) throws IOException;
  }

  private void delete(List<String> failed, String what, ChannelAction action) {
    try (Channel ch = admin.createChannel()) {
      action.run(ch);
    } catch (IOException | TimeoutException | RuntimeException e) {
      failed.add(what + " (" + e.getMessage() + ")");
    }
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "RabbitMqDemoBroker[%s, exchange %s]", shown, exchange);
  }
}
