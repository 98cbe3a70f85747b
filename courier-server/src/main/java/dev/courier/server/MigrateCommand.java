package dev.courier.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.ConfigurationException;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import dev.courier.jdbc.Schema;
import dev.courier.jdbc.TimePartitions;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier migrate}: creates Courier's tables (outbox, processed-events ledger, dead letters)
 * in the configured database, or with {@code --print} writes the SQL to standard output for a
 * migration tool such as Flyway or Liquibase. Applying twice is harmless: every statement is {@code
 * IF NOT EXISTS}.
 */
@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Create Courier's tables in the configured database (idempotent).",
      "With --print, write the SQL to standard output instead, for your own migration tool."
    })
final class MigrateCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;

  @Option(
      names = "--print",
      description = "Print the SQL instead of applying it; needs no database.")
  boolean print;

  @Option(
      names = "--log-mode",
      description = {
        "Also turn the outbox to log mode (PostgreSQL 13+), for relays run with --claim-mode log:"
            + " appended rows record their writer's transaction id, pending rows are converted."
            + " Stop the outbox's LEASE and LOCK relays first."
      })
  boolean logMode;

  @Option(
      names = "--log-partitions",
      paramLabel = "N",
      defaultValue = "16",
      description =
          "Partitions of a log-mode outbox (default: ${DEFAULT-VALUE}); the most relays that can"
              + " publish it at once. Fixed once chosen (see OPERATIONS.md to change it).")
  int logPartitions;

  @Option(
      names = "--time-partitions",
      paramLabel = "INTERVAL",
      description = {
        "With --log-mode: partition the outbox by creation time, one table per INTERVAL (whole"
            + " hours, 1h to 31d, for example 1d), so that retention drops published partitions"
            + " whole. Only while the outbox is empty; log-mode relays create the next partitions"
            + " as time goes on."
      })
  String timePartitions;

  @Option(
      names = "--dialect",
      paramLabel = "NAME",
      defaultValue = "postgresql",
      description = "SQL dialect for --print (default: ${DEFAULT-VALUE}; the only one so far).")
  String dialect;

  @Override
  public boolean verbose() {
    return common != null && common.verbose;
  }

  @Override
  public Integer call() {
    CourierConfig config = database.apply(common.loader(cli.environment())).load();
    CourierTables tables = config.tables();
    PrintWriter out = spec.commandLine().getOut();
    if (print) {
      out.print(Schema.render(Dialect.forProduct(dialect), tables));
      out.flush();
      return CourierCli.OK;
    }
    Duration interval = null;
    if (timePartitions != null) {
      if (!logMode) {
        throw new ConfigurationException("--time-partitions", "needs --log-mode: only a log-mode outbox is partitioned by time");
      }
      interval =
          TimePartitions.checkInterval(
              CourierConfig.durationOption(
                  "--time-partitions", timePartitions, TimePartitions.MIN_INTERVAL, TimePartitions.MAX_INTERVAL));
    }
    String url =
        config
            .database()
            .configuredUrl()
            .orElseThrow(
                () ->
                    CourierConfig.missing(
                        Setting.DB_URL, "migrate needs a database (or use --print)", "--db-url"));
    String schema = config.database().schema();
    try (HikariDataSource ds = Databases.pool("courier-migrate", config.database(), 2)) {
      if (schema != null) {
        Databases.createSchemaIfMissing(ds, schema);
      }
      int applied = Schema.migrate(ds, tables);
      out.printf(
          "Applied %d statements to %s%s: tables %s, %s, %s are in place (schema version %d).%n",
          applied,
          config.database().displayUrl(),
          schema == null ? "" : " (schema " + schema + ")",
          tables.outbox(),
          tables.processedEvents(),
          tables.deadLetters(),
          Schema.LATEST_VERSION);
      if (logMode) {
        int converted = Schema.enableLogMode(ds, tables, logPartitions);
        out.printf(
            "Log mode is on for %s with %d partitions (%d pending rows converted); run relays with"
                + " --claim-mode log.%n",
            tables.outbox(),
            logPartitions,
            converted);
        if (interval != null) {
          boolean now = Schema.partitionByTime(ds, tables, interval);
          out.printf(
              now
                  ? "The outbox %s is partitioned by creation time, one partition per %s.%n"
                  : "The outbox %s was already partitioned by creation time (%s asked; the existing interval stays).%n",
              tables.outbox(),
              timePartitions);
        }
      }
      out.flush();
      return CourierCli.OK;
    }
  }
}
