package dev.courier.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.testkit.Servers;
import dev.courier.testkit.chaos.FaultProxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * RabbitMQ for a chaos run: the local node (127.0.0.1:5672, guest/guest), shared with other work, so every scenario
 * uses an exchange and queues of its own and deletes them afterwards.
 *
 * <p>Each destination gets the transport's topology (a topic exchange, one quorum queue per consumer with its
 * dead-letter queue) and, next to it, an audit queue bound with {@code #}: a durable classic queue that keeps a copy of
 * every message the broker routed, which is how the checker counts copies on the wire after the run.
 *
 * <p>A broker restart stops and starts the node's application with {@code rabbitmqctl stop_app} and
 * {@code start_app} (the node keeps its data; Maven runs modules one after another, and every scenario's names are
 * its own); whatever happens, the node is started again and awaited ({@code rabbitmqctl await_startup}, then the
 * port) before the call returns.
 */
final class RabbitMqBroker implements ChaosBroker {

    static final String HOST = "127.0.0.1";
    static final int PORT = 5672;
    private static final String AUDIT = "chaos-audit";
    private static final Logger LOG = LoggerFactory.getLogger(RabbitMqBroker.class);

    private final String host;
    private final int port;

    RabbitMqBroker(String host, int port) {
        this.host = host;
        this.port = port;
    }

    /** The local node; throws (or skips, outside CI, through the caller) if it does not answer. */
    static RabbitMqBroker local() {
        if (!Servers.isReachable(HOST, PORT, Duration.ofSeconds(2))) {
            // perhaps an earlier run was stopped between stop_app and start_app
            ensureRunning();
        }
        return new RabbitMqBroker(HOST, PORT);
    }

    @Override
    public String transport() {
        return "rabbitmq";
    }

    @Override
    public void createDestination(String destination, List<String> consumers) {
        try (RabbitMqTransport transport = ChaosTransports.rabbitMq(host, port, "chaos-setup")) {
            for (String consumer : consumers) {
                transport.declareTopology(destination, consumer);
            }
        }
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            String audit = RabbitMqTransport.queueName(destination, AUDIT);
            ch.queueDeclare(audit, true, false, false, Map.of("x-queue-type", "classic"));
            ch.queueBind(audit, destination, "#");
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException("cannot declare the audit queue of " + destination, e);
        }
    }

    @Override
    public void deleteDestination(String destination, List<String> consumers) {
        List<String> queues = new ArrayList<>();
        for (String consumer : consumers) {
            String queue = RabbitMqTransport.queueName(destination, consumer);
            queues.add(queue);
            queues.add(RabbitMqTransport.deadLetterQueueName(queue));
        }
        queues.add(RabbitMqTransport.queueName(destination, AUDIT));
        try (Connection c = connect()) {
            for (String queue : queues) {
                try (Channel ch = c.createChannel()) {
                    ch.queueDelete(queue);
                } catch (IOException | TimeoutException | RuntimeException e) {
                    // already gone
                }
            }
            for (String exchange : List.of(destination, RabbitMqTransport.deadLetterExchangeName(destination))) {
                try (Channel ch = c.createChannel()) {
                    ch.exchangeDelete(exchange);
                } catch (IOException | TimeoutException | RuntimeException e) {
                    // already gone
                }
            }
        } catch (IOException | TimeoutException | RuntimeException e) {
            LOG.warn("cannot delete the queues and exchanges of {}: {}", destination, e.toString());
        }
    }

    @Override
    public List<String> clientArgs(FaultProxy proxy) {
        return proxy == null
                ? List.of("transport=rabbitmq", "amqpHost=" + host, "amqpPort=" + port)
                : List.of("transport=rabbitmq", "amqpHost=" + proxy.host(), "amqpPort=" + proxy.port());
    }

    @Override
    public FaultProxy proxy() throws IOException {
        return FaultProxy.start(host, port);
    }

    @Override
    public Map<UUID, Integer> wireCopies(String destination) {
        String audit = RabbitMqTransport.queueName(destination, AUDIT);
        Map<UUID, Integer> copies = new HashMap<>();
        try (Connection c = connect(); Channel ch = c.createChannel()) {
            long expected = ch.queueDeclarePassive(audit).getMessageCount();
            AtomicLong seen = new AtomicLong();
            ch.basicQos(1_000);
            ch.basicConsume(audit, true, new DefaultConsumer(ch) {
                @Override
                public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties,
                        byte[] body) {
                    Object id = properties.getHeaders() == null ? null
                            : properties.getHeaders().get(dev.courier.rabbitmq.RabbitMqHeaders.EVENT_ID);
                    String text = id != null ? id.toString() : properties.getMessageId();
                    if (text != null) {
                        synchronized (copies) {
                            copies.merge(UUID.fromString(text), 1, Integer::sum);
                        }
                    }
                    seen.incrementAndGet();
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (seen.get() < expected) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("read " + seen.get() + " of " + expected + " messages of "
                            + audit + " within 120 s");
                }
                ChaosRun.sleep(Duration.ofMillis(50));
            }
        } catch (IOException | TimeoutException e) {
            throw new IllegalStateException("cannot read the audit queue " + audit, e);
        }
        synchronized (copies) {
            return new HashMap<>(copies);
        }
    }

    @Override
    public String describeRestart(Duration down) {
        return "RabbitMQ application stopped (rabbitmqctl stop_app), started again after " + down.toMillis() + " ms";
    }

    @Override
    public void restart(Duration down) {
        try {
            rabbitmqctl("stop_app");
            ChaosRun.sleep(down);
        } finally {
            ensureRunning();
        }
    }

    /** Starts the node's application if it is stopped, and waits until it serves AMQP. */
    static void ensureRunning() {
        if (!Servers.isReachable(HOST, PORT, Duration.ofSeconds(1))) {
            rabbitmqctl("start_app");
        }
        rabbitmqctl("await_startup");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Servers.isReachable(HOST, PORT, Duration.ofSeconds(1))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("RabbitMQ does not accept connections on " + PORT
                        + " again: run 'rabbitmqctl start_app' (or 'rabbitmq-server -detached')");
            }
            ChaosRun.sleep(Duration.ofMillis(100));
        }
    }

    private static void rabbitmqctl(String command) {
        try {
            Process p = new ProcessBuilder("rabbitmqctl", command).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(90, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("rabbitmqctl " + command + " did not finish within 90 s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("rabbitmqctl " + command + " failed (exit " + p.exitValue() + "): "
                        + output.strip());
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run rabbitmqctl " + command + " (is RabbitMQ installed here?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private Connection connect() throws IOException, TimeoutException {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost(host);
        f.setPort(port);
        f.setAutomaticRecoveryEnabled(false);
        return f.newConnection("chaos-admin");
    }

    @Override
    public void close() {
        if (!Servers.isReachable(HOST, PORT, Duration.ofSeconds(2))) {
            ensureRunning();
        }
    }

    @Override
    public String toString() {
        return "RabbitMQ " + host + ":" + port;
    }
}
