package dev.courier.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.deadletter.AlertListener;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier serve}: the operator's HTTP server on its own, without a relay: the dashboard at
 * {@code /}, the admin API at {@code /api/}, {@code /metrics} (outbox and dead-letter gauges) and
 * {@code /health/*}. Runs until SIGTERM or Ctrl-C. Refuses to start on a non-loopback address
 * without {@code courier.admin.token}.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Serve the dashboard (/), the admin API (/api/), /metrics and /health until stopped.",
      "Every API call, reads included, needs courier.admin.token (COURIER_ADMIN_TOKEN) as a bearer",
      "token (courier.admin.open-reads=true opens reads on loopback); without a token the server",
      "only starts on a loopback address."
    })
final class ServeCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;
  @Mixin HttpOptions httpOptions;

  @Option(
      names = "--http-host",
      paramLabel = "HOST",
      description = "Address to listen on (courier.http.host, default 127.0.0.1).")
  String httpHost;

  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch started = new CountDownLatch(1);
  private volatile URI address;

  /** Asks a running serve command to stop, as SIGTERM does. */
  void requestStop() {
    stopRequested.countDown();
  }

  /** The base URL once serving (tests). */
  URI awaitStarted(java.time.Duration timeout) throws InterruptedException {
    started.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    return address;
  }

  @Override
  public boolean verbose() {
    return common != null && common.verbose;
  }

  @Override
  public Integer call() throws InterruptedException {
    CourierConfig config =
        httpOptions
            .apply(database.apply(common.loader(cli.environment())))
            .option(Setting.HTTP_HOST, "--http-host", httpHost)
            .load();
    config
        .database()
        .configuredUrl()
        .orElseThrow(
            () -> CourierConfig.missing(Setting.DB_URL, "serve reads Courier's tables", "--db-url"));
    if (!config.http().enabled()) {
      throw new dev.courier.ConfigurationException(
          Setting.HTTP_ENABLED.key(), "is false, and serving HTTP is all 'courier serve' does");
    }
    PrintWriter err = spec.commandLine().getErr();
    try (HikariDataSource ds = Databases.pool("courier-serve", config.database(), 4);
        Observability observability = new Observability(config)) {
      Components.requireOutboxTable(ds, config.tables(), config.database().displayUrl());
      observability.serveAdminApi(ds, config.tables());
      observability.watchStores(ds, config.tables(), List.of(), AlertListener.logging());
      Optional<URI> http = observability.serve(false);
      try (RetentionSchedule ignored =
          RetentionSchedule.start(ds, config.tables(), config.retention(), Clock.systemUTC())) {
        Thread hook = new Thread(this::requestStop, "courier-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        address = http.orElseThrow();
        started.countDown();
        err.printf(
            "courier serve: dashboard at %s, admin API at %sapi/, metrics at %smetrics (%s)."
                + " SIGTERM or Ctrl-C stops it.%n",
            address, address, address,
            config.admin().token() == null
                ? (config.admin().openReads()
                    ? "read-only: no admin token configured"
                    : "closed: no admin token configured, and reads are not opened")
                : "calls need the admin token");
        err.flush();
        stopRequested.await();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
          // the JVM is exiting: the hook is what stopped us
        }
      }
    } finally {
      started.countDown();
    }
    err.println("courier serve: stopped.");
    err.flush();
    return CourierCli.OK;
  }
}
