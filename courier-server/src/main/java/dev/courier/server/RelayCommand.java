package dev.courier.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import dev.courier.relay.PgWakeups;
import dev.courier.relay.Relay;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier relay}: publishes committed outbox rows to Kafka until the process is told to stop
 * (SIGTERM, Ctrl-C). Stopping is graceful: a shutdown hook has the command close the relay, which
 * finishes the pass in flight (awaiting its confirmations up to the publish timeout) and gives back
 * the rows it still held; then the Kafka producer and the pool are closed, and only then may the
 * JVM exit.
 *
 * <p>Before starting it checks that the outbox table exists, and fails with exit code 1 and a hint
 * to run {@code courier migrate} if not.
 *
 * <p>Any number of relays may run against one outbox; each claims disjoint rows. Wake-up across
 * processes is not implemented yet: this relay finds new rows by polling (between {@code
 * courier.relay.min-poll-interval} and {@code courier.relay.max-poll-interval}).
 */
@Command(
    name = "relay",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Publish committed outbox rows to Kafka until stopped (SIGTERM or Ctrl-C stops gracefully).",
      "Logs are JSON lines on standard output."
    })
final class RelayCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;
  @Mixin KafkaOptions kafka;
  @Mixin RelayOptions relayOptions;

  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch stopped = new CountDownLatch(1);

  /** Asks a running relay command to stop gracefully, as SIGTERM does. */
  void requestStop() {
    stopRequested.countDown();
  }

  /** Waits until the command has stopped; returns false on timeout. */
  boolean awaitStopped(java.time.Duration timeout) {
    try {
      return stopped.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public boolean verbose() {
    return common != null && common.verbose;
  }

  @Override
  public Integer call() throws InterruptedException {
    CourierConfig config =
        relayOptions.apply(kafka.apply(database.apply(common.loader(cli.environment())))).load();
    config
        .database()
        .configuredUrl()
        .orElseThrow(
            () ->
                CourierConfig.missing(
                    Setting.DB_URL, "the relay reads the outbox from a database", "--db-url"));
    String bootstrap =
        config
            .kafka()
            .configuredBootstrapServers()
            .orElseThrow(
                () ->
                    CourierConfig.missing(
                        Setting.KAFKA_BOOTSTRAP_SERVERS,
                        "the relay publishes to Kafka",
                        "--kafka-bootstrap-servers"));
    PrintWriter err = spec.commandLine().getErr();

    HikariDataSource ds =
        Databases.pool(
            "courier-relay", config.database(), Math.max(3, config.database().poolSize()));
    KafkaTransport created = null;
    Relay relay;
    try {
      Components.requireOutboxTable(ds, config.tables(), config.database().displayUrl());
      created = Components.kafkaTransport(bootstrap, config.kafka(), "courier-relay");
      relay =
          Components.relay(ds, created, config.tables(), config.relay(), new SimpleMeterRegistry());
    } catch (RuntimeException e) {
      if (created != null) {
        created.close();
      }
      ds.close();
      throw e;
    }
    KafkaTransport transport = created;

    // SIGTERM/Ctrl-C run the hook; the hook asks this thread to stop and waits until it has, so the
    // relay's last pass is recorded before the JVM exits.
    Thread hook =
        new Thread(
            () -> {
              requestStop();
              awaitStopped(config.relay().publishTimeout().plusSeconds(20));
            },
            "courier-relay-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    PgWakeups.Listener listener = null;
    try {
      relay.start();
      // Writers in other processes send rate-limited NOTIFY hints (PgWakeups.notifier); the
      // listener holds one pooled connection and wakes the relay on each hint.
      listener = PgWakeups.listen(ds, PgWakeups.DEFAULT_CHANNEL, relay);
      err.printf(
          "courier relay %s: publishing %s at %s to Kafka at %s. SIGTERM or Ctrl-C stops it"
              + " gracefully.%n",
          relay.id(), config.tables().outbox(), config.database().displayUrl(), bootstrap);
      err.flush();
      stopRequested.await();
      err.println("courier relay " + relay.id() + ": stopping (finishing the pass in flight)...");
      err.flush();
    } finally {
      if (listener != null) {
        listener.close();
      }
      try {
        relay.close();
      } finally {
        transport.close();
        ds.close();
        stopped.countDown();
      }
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is exiting: the hook is what stopped us
      }
    }
    err.println("courier relay " + relay.id() + ": stopped.");
    err.flush();
    return CourierCli.OK;
  }
}
