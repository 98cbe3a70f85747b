package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import picocli.CommandLine.Option;

/**
 * Database options. There is deliberately no password option: a command line is visible to every
 * user of the machine (ps, /proc). Set {@code COURIER_DB_PASSWORD} or put it in the config file.
 */
final class DatabaseOptions {
  @Option(names = "--db-url", paramLabel = "JDBC_URL", description = "JDBC URL (courier.db.url).")
  String url;

  @Option(
      names = "--db-user",
      paramLabel = "USER",
      description = "Database user (courier.db.user).")
  String user;

  @Option(
      names = "--db-schema",
      paramLabel = "SCHEMA",
      description = "Schema to work in; created by migrate if missing (courier.db.schema).")
  String schema;

  CourierConfig.Loader apply(CourierConfig.Loader loader) {
    return loader
        .option(Setting.DB_URL, "--db-url", url)
        .option(Setting.DB_USER, "--db-user", user)
        .option(Setting.DB_SCHEMA, "--db-schema", schema);
  }
}
