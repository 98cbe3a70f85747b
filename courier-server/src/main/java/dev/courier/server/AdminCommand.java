package dev.courier.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.admin.Attribution;
import dev.courier.jdbc.CourierTables;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.admin.Outcome;
import dev.courier.server.admin.TerminalText;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Masking;
import dev.courier.server.config.Setting;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What the operator verbs ({@code outbox ...}, {@code dlq ...}, {@code prune}, {@code audit}) have
 * in common: configuration, a small connection pool, {@code --json}, {@code --operator}, and the
 * exit codes of {@link Outcome}: 0 done, 1 nothing matched or not found (or another failure), 2 bad
 * input, 3 database unreachable. A refused request changes nothing.
 */
abstract class AdminCommand implements Callable<Integer>, CourierCli.Verbosity {
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;

  @Option(names = "--json", description = "Write the result as JSON, for scripts.")
  boolean json;

  @Option(
      names = "--raw",
      description =
          "Print stored text (payloads, keys, headers, errors) as it is. By default control"
              + " characters in it are shown escaped (\\u001b), so that nothing a producer sent can"
              + " drive the terminal.")
  boolean raw;

  /** The operation's context. */
  record Context(
      HikariDataSource dataSource,
      CourierTables tables,
      Clock clock,
      CourierConfig config,
      Map<String, String> environment) {}

  /** Runs the operation; returns the exit code. Throw to report a failure. */
  abstract int run(Context ctx, PrintWriter out);

  /** Adds command-specific options to the configuration. */
  CourierConfig.Loader configure(CourierConfig.Loader loader) {
    return loader;
  }

  @Override
  public boolean verbose() {
    return common != null && common.verbose;
  }

  @Override
  public final Integer call() {
    PrintWriter out = raw ? spec.commandLine().getOut() : TerminalText.safe(spec.commandLine().getOut());
    PrintWriter err = TerminalText.safe(spec.commandLine().getErr());
    CourierCli cli = (CourierCli) spec.root().userObject();
    try {
      CourierConfig config = configure(database.apply(common.loader(cli.environment()))).load();
      config
          .database()
          .configuredUrl()
          .orElseThrow(
              () ->
                  CourierConfig.missing(
                      Setting.DB_URL, spec.qualifiedName() + " needs the database", "--db-url"));
      try (HikariDataSource ds = Databases.pool("courier-admin", config.database(), 2)) {
        int code = run(new Context(ds, config.tables(), Clock.systemUTC(), config, cli.environment()), out);
        out.flush();
        return code;
      }
    } catch (RuntimeException e) {
      Outcome o = Outcome.of(e);
      String prefix =
          switch (o) {
            case BAD_INPUT -> "courier: bad input: ";
            case NOT_FOUND -> "courier: not found: ";
            case UNREACHABLE -> "courier: database unreachable: ";
            default -> "courier: error: ";
          };
      err.println(prefix + Masking.text(e.getMessage()));
      if (o == Outcome.FAILED && e.getMessage() != null && e.getMessage().contains("does not exist")) {
        err.println("  (have Courier's tables been created? run 'courier migrate')");
      }
      if (verbose()) {
        e.printStackTrace(err);
      }
      err.flush();
      return o.exitCode();
    } finally {
      out.flush();
    }
  }

  /** Writes {@code node} as pretty JSON. */
  static void printJson(PrintWriter out, ObjectNode node) {
    try {
      out.println(AdminJson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(node));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The operator for the audit trail: {@code --operator}, else $USER, else "cli". */
  static Attribution who(Context ctx, String operator, String reason) {
    String op = operator;
    if (op == null || op.isBlank()) {
      op = ctx.environment().getOrDefault("USER", ctx.environment().get("LOGNAME"));
    }
    if (op == null || op.isBlank()) {
      op = "cli";
    }
    return new Attribution(op, reason);
  }

  /** Exit code for a result that may be empty. */
  static int okUnlessEmpty(long n) {
    return n == 0 ? Outcome.NOT_FOUND.exitCode() : Outcome.OK.exitCode();
  }
}
