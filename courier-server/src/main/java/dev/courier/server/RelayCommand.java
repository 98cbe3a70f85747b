package dev.courier.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.ConfigurationException;
import dev.courier.deadletter.AlertListener;
import dev.courier.relay.PgWakeups;
import dev.courier.relay.Relay;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Masking;
import dev.courier.server.config.Setting;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.PrintWriter;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier relay}: publishes committed outbox rows to Kafka, RabbitMQ or NATS JetStream
 * ({@code courier.relay.transport}) until the process is told to stop (SIGTERM, Ctrl-C). Stopping
 * is graceful: a shutdown hook has the command close the relay, which finishes the pass in flight
 * (awaiting its confirmations up to the publish timeout) and gives back the rows it still held;
 * then the transport and the pool are closed, and only then may the JVM exit.
 *
 * <p>Before starting it checks that the outbox table exists, and fails with exit code 1 and a hint
 * to run {@code courier migrate} if not. On NATS it also checks, for every destination it knows
 * (those of the pending rows and {@code courier.relay.destinations}), that the stream's duplicate
 * window covers the relay's retry horizon, and refuses to start (exit code 2) if one does not.
 *
 * <p>Any number of relays may run against one outbox; each claims disjoint rows. Writers in other
 * processes wake it through PostgreSQL notifications on channel {@value PgWakeups#DEFAULT_CHANNEL}
 * ({@code PgWakeups.notifier}); without them it finds new rows by polling (between {@code
 * courier.relay.min-poll-interval} and {@code courier.relay.max-poll-interval}).
 *
 * <p>While it runs it serves {@code /metrics}, {@code /health/live}, {@code /health/ready} and the
 * web dashboard's charts ({@code /}) on {@code courier.http.host:courier.http.port} (127.0.0.1:9477 by default), counts dead letters and
 * logs an ERROR line when they grow faster than {@code courier.health.dead-letter-growth} per
 * {@code courier.health.dead-letter-window}. With {@code courier.admin.enabled} it also serves the
 * admin API at {@code /api/}; with {@code courier.retention.interval} it prunes on that schedule.
 */
@Command(
    name = "relay",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Publish committed outbox rows to Kafka, RabbitMQ or NATS JetStream (--transport) until",
      "stopped (SIGTERM or Ctrl-C stops gracefully).",
      "Logs are JSON lines on standard output. Metrics and health are served on",
      "http://127.0.0.1:9477 (/metrics, /health/live, /health/ready) unless configured otherwise."
    })
final class RelayCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;
  @Mixin TransportOptions transportOptions;
  @Mixin KafkaOptions kafka;
  @Mixin RelayOptions relayOptions;
  @Mixin HttpOptions httpOptions;

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
        httpOptions
            .apply(
                relayOptions.apply(
                    transportOptions.apply(
                        kafka.apply(database.apply(common.loader(cli.environment()))))))
            .load();
    config
        .database()
        .configuredUrl()
        .orElseThrow(
            () ->
                CourierConfig.missing(
                    Setting.DB_URL, "the relay reads the outbox from a database", "--db-url"));
    String broker = brokerAddress(config);
    PrintWriter err = spec.commandLine().getErr();

    HikariDataSource ds =
        Databases.pool(
            "courier-relay", config.database(), Math.max(3, config.database().poolSize()));
    Transport created = null;
    Observability observability = new Observability(config);
    Relay relay;
    try {
      Components.requireOutboxTable(ds, config.tables(), config.database().displayUrl());
      created = transport(config, broker, observability.registry());
      relay =
          Components.relay(ds, created, config.tables(), config.relay(), observability.registry());
    } catch (RuntimeException e) {
      if (created != null) {
        created.close();
      }
      observability.close();
      ds.close();
      throw e;
    }
    Transport transport = created;

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
    RetentionSchedule retention = null;
    try {
      // endpoints first: a taken port fails the command before anything is published
      observability.watchStores(ds, config.tables(), List.of(), AlertListener.logging());
      observability.watchRelay(relay);
      Optional<URI> http = observability.serve(false);
      try {
        // checks the broker's dedupe window against the retry horizon before publishing anything
        relay.start();
      } catch (ConfigurationException e) {
        throw Components.renamed(e, Map.of());
      }
      retention =
          RetentionSchedule.start(ds, config.tables(), config.retention(), java.time.Clock.systemUTC());
      // Writers in other processes send rate-limited NOTIFY hints (PgWakeups.notifier); the
      // listener holds one pooled connection and wakes the relay on each hint.
      listener = PgWakeups.listen(ds, PgWakeups.DEFAULT_CHANNEL, relay);
      err.printf(
          "courier relay %s: publishing %s at %s to %s at %s. SIGTERM or Ctrl-C stops it"
              + " gracefully.%n",
          relay.id(),
          config.tables().outbox(),
          config.database().displayUrl(),
          config.relay().transport().displayName(),
          Masking.url(broker));
      if (http.isPresent()) {
        err.printf(
            "courier relay %s: metrics at %smetrics, readiness at %shealth/ready, dashboard at"
                + " %s.%n",
            relay.id(), http.get(), http.get(), http.get());
      }
      err.flush();
      stopRequested.await();
      err.println("courier relay " + relay.id() + ": stopping (finishing the pass in flight)...");
      err.flush();
    } finally {
      if (retention != null) {
        retention.close();
      }
      if (listener != null) {
        listener.close();
      }
      try {
        relay.close();
      } finally {
        observability.close();
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

  /** Where the configured broker is: Kafka's bootstrap servers, the AMQP URI or the NATS URLs. */
  private static String brokerAddress(CourierConfig config) {
    return switch (config.relay().transport()) {
      case KAFKA ->
          config
              .kafka()
              .configuredBootstrapServers()
              .orElseThrow(
                  () ->
                      CourierConfig.missing(
                          Setting.KAFKA_BOOTSTRAP_SERVERS,
                          "the relay publishes to Kafka",
                          "--kafka-bootstrap-servers"));
      case RABBITMQ ->
          config
              .rabbitMq()
              .configuredUri()
              .orElseThrow(
                  () ->
                      CourierConfig.missing(
                          Setting.RABBITMQ_URI,
                          "the relay publishes to RabbitMQ",
                          "--rabbitmq-uri"));
      case NATS ->
          config
              .nats()
              .configuredUrl()
              .orElseThrow(
                  () ->
                      CourierConfig.missing(
                          Setting.NATS_URL, "the relay publishes to NATS JetStream", "--nats-url"));
    };
  }

  private static Transport transport(CourierConfig config, String broker, MeterRegistry registry) {
    return switch (config.relay().transport()) {
      case KAFKA -> Components.kafkaTransport(broker, config.kafka(), "courier-relay");
      case RABBITMQ -> Components.rabbitMqTransport(broker, config.rabbitMq(), "courier-relay");
      case NATS ->
          Components.jetStreamTransport(
              broker,
              config.nats(),
              config.relay().retryHorizon(),
              "courier-relay",
              registry);
    };
  }
}
