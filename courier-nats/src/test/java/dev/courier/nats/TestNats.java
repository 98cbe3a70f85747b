package dev.courier.nats;

import dev.courier.testkit.Servers;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The tests' NATS server: the local nats-server with JetStream at 127.0.0.1:4222, plain management
 * calls on it, unique names, and a restart that keeps the server's data.
 */
final class TestNats implements AutoCloseable {
  static final String HOST = "127.0.0.1";
  static final int PORT = 4222;
  static final String URL = "nats://" + HOST + ":" + PORT;
  static final String BINARY = "/usr/sbin/nats-server";
  static final List<String> START =
      List.of(
          "start-stop-daemon",
          "--start",
          "--oknodo",
          "--background",
          "--exec",
          BINARY,
          "--",
          "-a",
          HOST,
          "-p",
          Integer.toString(PORT),
          "-js",
          "-sd",
          "/var/lib/nats-server",
          "-l",
          "/var/log/nats-server.log");

  private final Connection connection;
  private final JetStreamManagement management;
  private final List<String> streams = new ArrayList<>();

  private TestNats() throws IOException, InterruptedException {
    connection = Nats.connect(new Options.Builder().server(URL).maxReconnects(-1).build());
    management = connection.jetStreamManagement();
  }

  /** Connects, or skips the test (fails it on CI) when no server is there. */
  static TestNats connect() {
    Servers.requireReachable("NATS with JetStream", HOST, PORT, String.join(" ", START));
    try {
      return new TestNats();
    } catch (IOException e) {
      throw new IllegalStateException("cannot connect to " + URL, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A subject no other test uses: {@code courier-test.<prefix>.<random>}. */
  static String uniqueSubject(String prefix) {
    return "courier-test." + prefix + "." + UUID.randomUUID().toString().substring(0, 8);
  }

  /** Remembers a stream to delete on {@link #close()}. */
  String track(String stream) {
    streams.add(stream);
    return stream;
  }

  /** The stream the default naming rule gives {@code subject}, tracked for deletion. */
  String trackDefault(String subject) {
    return track(JetStreamTransport.defaultStreamName(subject));
  }

  /** Creates a stream directly, bypassing Courier's checks. */
  StreamInfo createStream(String name, String subject, Duration duplicateWindow) throws Exception {
    track(name);
    return management.addStream(
        StreamConfiguration.builder()
            .name(name)
            .subjects(subject)
            .storageType(StorageType.File)
            .duplicateWindow(duplicateWindow)
            .build());
  }

  long messages(String stream) throws Exception {
    return management.getStreamInfo(stream).getStreamState().getMsgCount();
  }

  ConsumerInfo consumer(String stream, String durable) throws Exception {
    return management.getConsumerInfo(stream, durable);
  }

  Connection connection() {
    return connection;
  }

  @Override
  public void close() {
    for (String s : streams) {
      try {
        management.deleteStream(s);
      } catch (JetStreamApiException | IOException | RuntimeException e) {
        // already gone
      }
    }
    try {
      connection.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // --- restarts ----------------------------------------------------------------------------------

  /**
   * Stops the server (SIGTERM, then waits for it to exit) and starts it again with the same data
   * directory; returns when it accepts connections. It is started again even if stopping failed.
   */
  static void restartServer() throws Exception {
    try {
      String pid = pid();
      if (pid != null) {
        run(List.of("kill", "-TERM", pid));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (Files.exists(Path.of("/proc", pid)) && System.nanoTime() < deadline) {
          Thread.sleep(50);
        }
      }
    } finally {
      ensureRunning();
    }
  }

  /**
   * Starts the server if it is not running (harmless if it is) and waits until it accepts
   * connections.
   */
  @SuppressWarnings("try") // the connection is only opened to see that the server answers
  static void ensureRunning() throws Exception {
    run(START);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Servers.isReachable(HOST, PORT, Duration.ofMillis(500))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("nats-server did not come back on " + URL);
      }
      Thread.sleep(100);
    }
    // JetStream recovers its streams after the port opens; wait until its API answers.
    while (true) {
      try (Connection c = Nats.connect(new Options.Builder().server(URL).build())) {
        c.jetStreamManagement().getAccountStatistics();
        return;
      } catch (IOException | JetStreamApiException e) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("JetStream did not come back on " + URL, e);
        }
        Thread.sleep(100);
      }
    }
  }

  private static String pid() throws Exception {
    Process p = new ProcessBuilder("pidof", "nats-server").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    p.waitFor();
    return out.isEmpty() ? null : out.split("\\s+")[0];
  }

  private static void run(List<String> command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(
          String.join(" ", command).toLowerCase(Locale.ROOT) + " failed: " + out);
    }
  }
}
