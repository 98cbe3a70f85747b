package dev.courier.bench;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.nats.JetStreamTransport;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.relay.Relay;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.Headers;
import io.nats.client.PublishOptions;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * W0 and W2 on the other two brokers: the rate at which a plain client publishes the backlog's
 * messages with the broker's confirmation, fully pipelined (every message sent without waiting,
 * then every confirmation awaited; RabbitMQ: publisher confirms into a quorum queue, persistent
 * messages, {@code mandatory}; JetStream: a file-stored stream, one replica, a PubAck per message
 * with its {@code Nats-Msg-Id}), and the rate at which the real {@link Relay} drains the same
 * backlog through Courier's transport for that broker, divided by it.
 *
 * <p>The brokers are the machine's own servers ({@link Brokers}: RabbitMQ at 127.0.0.1:5672,
 * guest/guest; NATS at 127.0.0.1:4222); a broker that does not answer is skipped with a warning,
 * and its figures are missing from the report.
 */
final class BrokerDrain {
  private static final Logger log = LoggerFactory.getLogger(BrokerDrain.class);
  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(60);

  private BrokerDrain() {}

  /** One broker: how to publish raw, how to build Courier's transport, how to clean up. */
  private interface Broker extends AutoCloseable {
    String name();

    /** Publishes {@code events} without waiting, then awaits every confirmation; returns the time taken. */
    Duration publishRaw(List<Event> events) throws Exception;

    /** Drops what the raw publish stored, so the broker holds one backlog at a time. */
    void purge() throws Exception;

    Transport transport();

    @Override
    void close() throws Exception;
  }

  static void run(RunContext ctx) {
    if (Brokers.rabbitAnswers()) {
      measure(ctx, "rabbitmq", "RabbitMQ (publisher confirms, quorum queue, persistent)", Rabbit::new);
    } else {
      log.warn(
          "RabbitMQ does not answer at {}:{}: its W0 and W2 figures are skipped", Brokers.RABBIT_HOST, Brokers.RABBIT_PORT);
    }
    if (Brokers.natsAnswers()) {
      measure(ctx, "jetstream", "NATS JetStream (file storage, 1 replica, PubAck)", JetStreamBroker::new);
    } else {
      log.warn("NATS does not answer at {}: its W0 and W2 figures are skipped", Brokers.NATS_URL);
    }
  }

  @FunctionalInterface
  private interface Opener {
    Broker open(String destination) throws Exception;
  }

  private static void measure(RunContext ctx, String key, String label, Opener opener) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    for (int size : ctx.options().payloadSizes()) {
      String sz = size + " B";
      String destination = "bench-" + key + "-w2-" + size + "-" + UUID.randomUUID().toString().substring(0, 8);
      double raw;
      double drained;
      try (Broker broker = opener.open(destination)) {
        // connection, topology and stream first, untimed, as for Kafka's ceiling
        broker.publishRaw(events(destination, Ceilings.RELAY_BATCH, size, -1));
        List<Event> backlog = events(destination, n, size, ctx.run());
        Duration took = broker.publishRaw(backlog);
        raw = n / (took.toNanos() / 1e9);
        broker.purge();
        drained = drain(env, broker.transport(), destination, n, size);
      } catch (Exception e) {
        throw new IllegalStateException(label + ": " + e.getMessage(), e);
      }
      ctx.add(
          Workload.W0,
          key + ".ceiling." + size,
          label + " confirmed publish, fully pipelined, " + sz,
          "events/s",
          raw,
          null);
      ctx.add(Workload.W2, key + ".drain." + size, "relay drain through " + label + ", " + sz + ", backlog " + n,
          "events/s", drained, null);
      ctx.add(
          Workload.W2,
          key + ".drain_vs_ceiling." + size,
          "relay drain ÷ its ceiling (confirmed publish, fully pipelined), " + label + ", " + sz,
          Figure.RATIO,
          drained / raw,
          null);
    }
  }

  /** The relay, with its defaults, draining a committed backlog of {@code n} rows to {@code destination}. */
  private static double drain(BenchEnvironment env, Transport transport, String destination, int n, int size)
      throws InterruptedException {
    HikariDataSource pool = env.freshSchema("w2_" + transport.name(), 8);
    try {
      RelayDrain.fill(pool, destination, n, size);
      BenchEnvironment.vacuumAnalyze(pool, "courier_outbox");
      env.checkpoint();
      MeterRegistry registry = new SimpleMeterRegistry();
      Relay relay = Relay.builder(pool, transport).meterRegistry(registry).build();
      long start = System.nanoTime();
      relay.start();
      long deadline = start + Duration.ofSeconds(Math.max(300, n / 100)).toNanos();
      try {
        while (RelayDrain.published(registry) < n) {
          if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException(
                "the relay published " + RelayDrain.published(registry) + " of " + n + " rows before the deadline");
          }
          RelayDrain.failIfDead(registry);
          Thread.sleep(1);
        }
      } finally {
        relay.close();
      }
      long took = System.nanoTime() - start;
      long pending = BenchEnvironment.count(pool, "SELECT count(*) FROM courier_outbox WHERE status <> 'PUBLISHED'");
      if (pending != 0) {
        throw new IllegalStateException(pending + " rows are not PUBLISHED after the drain");
      }
      log.info("W2 {}: drained {} rows of {} B in {} ms", transport.name(), n, size, took / 1_000_000);
      return n / (took / 1e9);
    } finally {
      env.discard(pool);
    }
  }

  private static List<Event> events(String destination, int n, int size, long seed) {
    List<Event> out = new ArrayList<>(n);
    Instant now = Instant.now();
    for (int i = 0; i < n; i++) {
      long orderId = BenchEvents.orderId(seed < 0 ? 1 : 0, i);
      out.add(BenchEvents.event(destination, orderId, BenchEvents.payload(size, seed * 1_000_003L + i)).build(now));
    }
    return out;
  }

  // --- RabbitMQ -----------------------------------------------------------------------------------

  private static final class Rabbit implements Broker {
    private final String exchange;
    private final RabbitMqTransport transport;
    private final String queue;
    private final com.rabbitmq.client.Connection connection;
    private final Channel channel;

    Rabbit(String destination) throws Exception {
      this.exchange = destination;
      this.transport = Brokers.rabbitTransport("courier-bench-relay");
      this.queue = transport.declareTopology(destination, "bench");
      this.connection = Brokers.rabbitConnection("courier-bench-raw");
      this.channel = connection.createChannel();
      channel.confirmSelect();
      channel.addReturnListener(
          r -> {
            throw new IllegalStateException("a raw message was returned unroutable: " + r.getReplyText());
          });
    }

    @Override
    public String name() {
      return "rabbitmq";
    }

    @Override
    public Duration publishRaw(List<Event> events) throws Exception {
      long start = System.nanoTime();
      for (Event e : events) {
        Map<String, Object> headers = new HashMap<>();
        headers.put("courier-event-id", e.id().toString());
        headers.put("courier-event-type", e.type());
        headers.put("courier-correlation-id", e.correlationId());
        headers.put("courier-created-at", e.createdAt().toString());
        AMQP.BasicProperties props =
            new AMQP.BasicProperties.Builder()
                .deliveryMode(2)
                .messageId(e.id().toString())
                .type(e.type())
                .headers(headers)
                .build();
        channel.basicPublish(exchange, e.key(), true, props, e.payload());
      }
      channel.waitForConfirmsOrDie(CONFIRM_TIMEOUT.toMillis());
      return Duration.ofNanos(System.nanoTime() - start);
    }

    @Override
    public void purge() throws IOException {
      channel.queuePurge(queue);
    }

    @Override
    public Transport transport() {
      return transport;
    }

    @Override
    public void close() throws Exception {
      try {
        Brokers.deleteRabbitTopology(channel, exchange, queue);
      } finally {
        connection.close();
        transport.close();
      }
    }
  }

  // --- NATS JetStream -----------------------------------------------------------------------------

  private static final class JetStreamBroker implements Broker {
    private final JetStreamTransport transport;
    private final String stream;
    private final io.nats.client.Connection connection;
    private final JetStream jetStream;

    JetStreamBroker(String destination) throws Exception {
      this.transport = Brokers.jetStreamTransport("courier-bench-relay");
      this.stream = transport.ensureStream(destination);
      this.connection = Nats.connect(Brokers.NATS_URL);
      this.jetStream = connection.jetStream();
    }

    @Override
    public String name() {
      return "jetstream";
    }

    @Override
    public Duration publishRaw(List<Event> events) throws Exception {
      long start = System.nanoTime();
      List<CompletableFuture<PublishAck>> acks = new ArrayList<>(events.size());
      for (Event e : events) {
        Headers headers = new Headers();
        headers.put("courier-event-id", e.id().toString());
        headers.put("courier-event-type", e.type());
        headers.put("courier-event-key", e.key());
        headers.put("courier-correlation-id", e.correlationId());
        headers.put("courier-created-at", e.createdAt().toString());
        PublishOptions po = PublishOptions.builder().messageId(e.id().toString()).expectedStream(stream).build();
        acks.add(jetStream.publishAsync(e.destination(), headers, e.payload(), po));
      }
      for (CompletableFuture<PublishAck> ack : acks) {
        PublishAck a = ack.get(CONFIRM_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        if (a.isDuplicate()) {
          throw new IllegalStateException("a raw message was a broker duplicate: " + a);
        }
      }
      return Duration.ofNanos(System.nanoTime() - start);
    }

    @Override
    public void purge() throws Exception {
      connection.jetStreamManagement().purgeStream(stream);
    }

    @Override
    public Transport transport() {
      return transport;
    }

    @Override
    public void close() throws Exception {
      try {
        JetStreamManagement jsm = connection.jetStreamManagement();
        jsm.deleteStream(stream);
      } finally {
        connection.close();
        transport.close();
      }
    }
  }
}
