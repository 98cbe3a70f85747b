package dev.courier.server.demo;

import dev.courier.server.CourierCli;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier demo}: the worked example of the whole guaranteed path, with faults injected, and
 * a report that checks the invariants, on the broker chosen with {@code --transport}. Exit code 0
 * when every invariant held, 1 when one broke, 2 when the broker is not reachable.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    sortOptions = false,
    description = {
      "Run the worked example of the guaranteed path:",
      "  checkout -> outbox -> relay -> broker -> two idempotent consumers,",
      "with rolled-back orders, dropped confirmations and consumer crashes injected,",
      "then check that nothing was lost, nothing phantom appeared, nothing applied twice.",
      "",
      "Uses the local PostgreSQL at 127.0.0.1:5432 (else an embedded one) unless",
      "courier.db.url is configured, and the broker chosen with --transport:",
      "an embedded Kafka broker (or courier.kafka.bootstrap-servers), the local",
      "RabbitMQ (or --rabbitmq-uri) or the local NATS JetStream (or --nats-url).",
      "Each run works in a fresh schema and its own topic, exchange or stream,",
      "removed unless --keep.",
      ""
    },
    footer = {
      "",
      "Rates: a bare number is per second; 10000/min and 167/s also work.",
      "Fractions: 0.02, 2%% or 1/50.   Durations: 500ms, 30s, 5m.",
      "Exit codes: 0 every invariant held, 1 an invariant broke or the run failed,",
      "2 usage error or the chosen broker is not reachable."
    })
public final class DemoCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;

  @Option(
      names = "--transport",
      paramLabel = "BROKER",
      description =
          "kafka (default), rabbitmq or nats: the broker between the relay and the consumers.")
  String transport;

  @Option(
      names = "--duration",
      paramLabel = "TIME",
      description = "How long to place orders (default 60s).")
  String duration;

  @Option(
      names = "--warm-up",
      paramLabel = "TIME",
      description =
          "Orders placed first and left out of the latency figures, while the JVM warms up (default"
              + " 5s; 0s for none).")
  String warmUp;

  @Option(
      names = "--rate",
      paramLabel = "RATE",
      description = "Orders per second, or e.g. 10000/min (default 10000/min).")
  String rate;

  @Option(
      names = "--rollback-rate",
      paramLabel = "FRACTION",
      description = "Checkouts rolled back after appending their event (default 2%%).")
  String rollbackRate;

  @Option(
      names = "--drop-confirm-rate",
      paramLabel = "FRACTION",
      description = "Broker confirmations lost after the broker stored the event (default 0.1%%).")
  String dropConfirmRate;

  @Option(
      names = "--consumer-crash-rate",
      paramLabel = "FRACTION",
      description =
          "Chance per applied event that a consumer crashes between its DB commit and its"
              + " acknowledgement to the broker (default 1/2000).")
  String consumerCrashRate;

  @Option(
      names = "--keep",
      description = "Keep the run's database schema (and queues or stream) for inspection.")
  Boolean keep;

  @Option(
      names = "--json-logs",
      description = "Write the JSON logs to standard output (progress moves to standard error).")
  Boolean jsonLogs;

  @Option(
      names = "--work-dir",
      paramLabel = "DIR",
      description = "Where the demo writes its log (default .courier).")
  String workDir;

  @Option(
      names = "--db-url",
      paramLabel = "JDBC_URL",
      description = "Use this database instead of a local or embedded one.")
  String dbUrl;

  @Option(
      names = "--db-user",
      paramLabel = "USER",
      description = "Database user (courier.db.user).")
  String dbUser;

  @Option(
      names = "--kafka-bootstrap-servers",
      paramLabel = "HOST:PORT[,...]",
      description = "Use this Kafka cluster instead of an embedded broker.")
  String bootstrapServers;

  @Option(
      names = "--rabbitmq-uri",
      paramLabel = "URL",
      description =
          "With --transport rabbitmq: the broker (default amqp://guest:guest@127.0.0.1:5672).")
  String rabbitMqUri;

  @Option(
      names = "--nats-url",
      paramLabel = "URL",
      description = "With --transport nats: the JetStream server (default nats://127.0.0.1:4222).")
  String natsUrl;

  @Option(
      names = "--http-port",
      paramLabel = "PORT",
      description =
          "Port of /metrics and /health on 127.0.0.1 while the demo runs (default 9477, or any"
              + " free port if that is taken; 0 for any).")
  String httpPort;

  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description = "Properties file with courier.* settings.")
  Path configFile;

  @Option(
      names = {"-v", "--verbose"},
      description = "Print stack traces with errors.")
  boolean verbose;

  @Override
  public boolean verbose() {
    return verbose;
  }

  @Override
  public Integer call() throws Exception {
    CourierConfig config =
        CourierConfig.loader()
            .file(configFile)
            .environment(cli.environment())
            .option(Setting.DEMO_DURATION, "--duration", duration)
            .option(Setting.DEMO_WARM_UP, "--warm-up", warmUp)
            .option(Setting.DEMO_RATE, "--rate", rate)
            .option(Setting.DEMO_ROLLBACK_RATE, "--rollback-rate", rollbackRate)
            .option(Setting.DEMO_DROP_CONFIRM_RATE, "--drop-confirm-rate", dropConfirmRate)
            .option(Setting.DEMO_CONSUMER_CRASH_RATE, "--consumer-crash-rate", consumerCrashRate)
            .option(Setting.DEMO_KEEP, "--keep", keep == null ? null : keep.toString())
            .option(
                Setting.DEMO_JSON_LOGS,
                "--json-logs",
                jsonLogs == null ? null : jsonLogs.toString())
            .option(Setting.DEMO_WORK_DIR, "--work-dir", workDir)
            .option(Setting.DB_URL, "--db-url", dbUrl)
            .option(Setting.DB_USER, "--db-user", dbUser)
            .option(Setting.KAFKA_BOOTSTRAP_SERVERS, "--kafka-bootstrap-servers", bootstrapServers)
            .option(Setting.HTTP_PORT, "--http-port", httpPort)
            .load();
    BrokerChoice broker = BrokerChoice.parse(transport, rabbitMqUri, natsUrl);
    Demo demo = new Demo(config, broker, spec.commandLine().getOut(), spec.commandLine().getErr());
    DemoReport report;
    try {
      report = demo.run();
    } catch (BrokerUnreachableException e) {
      // Nothing ran: say what is missing and how to start it, as for a usage error.
      spec.commandLine().getErr().println("courier: " + e.getMessage());
      if (verbose) {
        e.printStackTrace(spec.commandLine().getErr());
      }
      spec.commandLine().getErr().flush();
      return CourierCli.USAGE;
    }
    return report.invariantsHold() ? CourierCli.OK : CourierCli.FAILED;
  }
}
