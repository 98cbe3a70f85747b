package dev.courier.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.courier.testkit.Servers;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeoutException;

/**
 * The RabbitMQ the tests use (127.0.0.1:5672, guest/guest), and a plain client connection for
 * looking at queues from the outside. Every test uses names of its own and deletes what it declared
 * through a {@link Cleanup}.
 */
final class TestRabbit {
  static final String HOST = "127.0.0.1";
  static final int PORT = 5672;

  private TestRabbit() {}

  /** Skips the test (fails it on CI) when no broker listens. */
  static void require() {
    Servers.requireReachable(
        "RabbitMQ", HOST, PORT, "rabbitmq-server -detached (Debian package rabbitmq-server), user guest/guest");
  }

  /** A transport builder for the test broker. */
  static RabbitMqTransport.Builder transport() {
    return RabbitMqTransport.builder().host(HOST).port(PORT).connectionName("courier-tests");
  }

  /** A destination name nobody has used: {@code courier-test.<hint>-<random>}. */
  static String uniqueDestination(String hint) {
    return "courier-test." + hint + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** A plain connection, as an operator's tool would open. */
  static Connection admin() {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(HOST);
    f.setPort(PORT);
    f.setAutomaticRecoveryEnabled(false);
    try {
      return f.newConnection("courier-tests (admin)");
    } catch (IOException | TimeoutException e) {
      throw new IllegalStateException("cannot connect to RabbitMQ at " + HOST + ":" + PORT, e);
    }
  }

  /** Runs one operation on a fresh channel of {@code admin}. */
  static <T> T onChannel(Connection admin, ChannelFunction<T> f) {
    try (Channel ch = admin.createChannel()) {
      return f.apply(ch);
    } catch (IOException | TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Messages ready in a queue (not those delivered and unacknowledged). */
  static long ready(Connection admin, String queue) {
    return onChannel(admin, ch -> (long) ch.queueDeclarePassive(queue).getMessageCount());
  }

  /** Whether a queue exists. */
  static boolean queueExists(Connection admin, String queue) {
    try (Channel ch = admin.createChannel()) {
      ch.queueDeclarePassive(queue);
      return true;
    } catch (IOException e) {
      return false;
    } catch (TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Takes one message from a queue and acks it; {@code null} when the queue is empty. */
  static GetResponse take(Connection admin, String queue) {
    return onChannel(admin, ch -> ch.basicGet(queue, true));
  }

  /**
   * Restarts the local broker's application with {@code rabbitmqctl stop_app} and {@code start_app}
   * (its data is kept), and waits until it accepts connections again.
   *
   * @return false if {@code rabbitmqctl} is missing or refuses (it needs root or the broker's
   *     Erlang cookie); nothing was restarted then
   */
  static boolean restart() throws IOException, InterruptedException {
    if (!rabbitmqctl("stop_app")) {
      return false;
    }
    if (!rabbitmqctl("start_app") || !rabbitmqctl("await_startup")) {
      throw new IllegalStateException("RabbitMQ was stopped but did not start again: run 'rabbitmqctl start_app'");
    }
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
    while (!Servers.isReachable(HOST, PORT, java.time.Duration.ofSeconds(1))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("RabbitMQ restarted but does not accept connections on " + PORT);
      }
      Thread.sleep(100);
    }
    return true;
  }

  private static boolean rabbitmqctl(String command) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder("rabbitmqctl", command).redirectErrorStream(true).start();
    } catch (IOException e) {
      return false; // not installed here
    }
    String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("rabbitmqctl " + command + " did not finish within 60 s");
    }
    if (p.exitValue() != 0) {
      System.err.println("rabbitmqctl " + command + " failed (exit " + p.exitValue() + "): " + output.strip());
      return false;
    }
    return true;
  }

  @FunctionalInterface
  interface ChannelFunction<T> {
    T apply(Channel ch) throws IOException;
  }

  /** Deletes the exchanges and queues a test registered, ignoring those already gone. */
  static final class Cleanup implements AutoCloseable {
    private final List<String> exchanges = new ArrayList<>();
    private final List<String> queues = new ArrayList<>();

    /** A destination: its exchange and dead-letter exchange. */
    String destination(String destination) {
      exchanges.add(destination);
      exchanges.add(RabbitMqTransport.deadLetterExchangeName(destination));
      return destination;
    }

    /** A queue and its dead-letter queue. */
    String queue(String queue) {
      queues.add(queue);
      queues.add(RabbitMqTransport.deadLetterQueueName(queue));
      return queue;
    }

    @Override
    public void close() {
      try (Connection admin = admin()) {
        for (String q : queues) {
          try (Channel ch = admin.createChannel()) {
            ch.queueDelete(q);
          } catch (IOException | TimeoutException | RuntimeException e) {
            // already gone
          }
        }
        for (String x : exchanges) {
          try (Channel ch = admin.createChannel()) {
            ch.exchangeDelete(x);
          } catch (IOException | TimeoutException | RuntimeException e) {
            // already gone
          }
        }
      } catch (IOException e) {
        // the broker went away; nothing left to clean
      }
    }
  }
}
