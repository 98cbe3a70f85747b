package dev.courier.server;

import dev.courier.ConfigurationException;
import dev.courier.server.demo.DemoCommand;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The {@code courier} command line: {@code migrate}, {@code relay}, {@code serve}, the operator
 * verbs {@code outbox}, {@code dlq}, {@code prune} and {@code audit}, {@code demo} and {@code
 * config}.
 *
 * <p><b>Exit codes.</b> {@value #OK} when the command did what it was asked; {@value #FAILED} when
 * an operation failed or the demo found a broken invariant; {@value #USAGE} for a usage or
 * configuration error (unknown option, bad value, missing setting). The operator verbs also use
 * {@value #FAILED} for "nothing matched" or "not found", {@value #USAGE} for bad input (unknown id
 * form, bad filter, bad time range), and {@value #UNREACHABLE} when the database cannot be
 * reached; a refused request changes nothing. Errors are one paragraph on
 * standard error, prefixed {@code courier:}; {@code --verbose} adds the stack trace.
 *
 * <p>Configuration is read from defaults, {@code --config FILE}, {@code COURIER_*} environment
 * variables and options, in that order of precedence (see CONFIGURATION.md).
 */
@Command(
    name = "courier",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = "Guaranteed event delivery: transactional outbox, relay, idempotent consumers.",
    subcommands = {
      MigrateCommand.class,
      RelayCommand.class,
      ServeCommand.class,
      OutboxCommand.class,
      DlqCommand.class,
      ConsumerCommand.class,
      HistoryReplayCommand.class,
      PruneCommand.class,
      AuditCommand.class,
      DemoCommand.class,
      ConfigCommand.class,
      CommandLine.HelpCommand.class
    },
    footer = {
      "",
      "Exit codes: 0 ok, 1 operation failed, invariant broken, or nothing matched / not found,",
      "2 usage, configuration or bad input, 3 database unreachable (operator verbs).",
      "Run 'courier demo' for a one-minute tour of the guaranteed path on embedded engines."
    })
public final class CourierCli implements Runnable {
  /** The command did what it was asked. */
  public static final int OK = 0;

  /** An operation failed, or the demo found a broken invariant. */
  public static final int FAILED = 1;

  /** A usage or configuration error. */
  public static final int USAGE = 2;

  /** The database could not be reached (operator verbs). */
  public static final int UNREACHABLE = 3;

  private final Map<String, String> environment;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** A CLI reading settings from the given environment (tests pass their own). */
  public CourierCli(Map<String, String> environment) {
    this.environment = Map.copyOf(Objects.requireNonNull(environment, "environment"));
  }

  /** The environment {@code COURIER_*} variables are read from. */
  public Map<String, String> environment() {
    return environment;
  }

  @Override
  public void run() {
    // 'courier' alone: show what there is to do
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
    PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
    int code = execute(System.getenv(), out, err, args);
    out.flush();
    err.flush();
    System.exit(code);
  }

  /**
   * Runs one command line and returns its exit code, without exiting the JVM.
   *
   * @param environment where {@code COURIER_*} variables come from
   * @param out where results and human-readable progress go
   * @param err where errors go
   */
  public static int execute(
      Map<String, String> environment, PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = commandLine(environment);
    cl.setOut(out);
    cl.setErr(err);
    return cl.execute(args);
  }

  /** The configured picocli command line, for embedding and tests. */
  public static CommandLine commandLine(Map<String, String> environment) {
    CommandLine cl = new CommandLine(new CourierCli(environment));
    cl.setExecutionExceptionHandler(new ErrorReporter());
    cl.setParameterExceptionHandler(new UsageReporter());
    cl.setExitCodeExceptionMapper(t -> t instanceof ConfigurationException ? USAGE : FAILED);
    // option values are strings checked by CourierConfig, which names key and origin in its errors
    cl.setTrimQuotes(true);
    return cl;
  }

  /** Prints an error raised while a command ran and maps it to an exit code. */
  private static final class ErrorReporter implements IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parseResult) {
      PrintWriter err = cmd.getErr();
      boolean verbose = cmd.getCommand() instanceof Verbosity v && v.verbose();
      boolean config = ex instanceof ConfigurationException;
      err.println("courier: " + (config ? "configuration error: " : "error: ") + ex.getMessage());
      for (Throwable s : ex.getSuppressed()) {
        err.println("courier: " + (config ? "configuration error: " : "error: ") + s.getMessage());
      }
      if (!config && !verbose && ex.getCause() != null) {
        String root = Databases.rootMessage(ex);
        if (!Objects.equals(root, ex.getMessage()) && !ex.getMessage().contains(root)) {
          err.println("  caused by: " + root);
        }
      }
      if (verbose) {
        ex.printStackTrace(err);
      } else if (!config) {
        err.println("  (run with --verbose for the stack trace)");
      }
      err.flush();
      return config ? USAGE : FAILED;
    }
  }

  /** Prints a usage error briefly: the problem and how to get help, not the whole manual. */
  private static final class UsageReporter implements IParameterExceptionHandler {
    @Override
    public int handleParseException(ParameterException ex, String[] args) {
      CommandLine cmd = ex.getCommandLine();
      PrintWriter err = cmd.getErr();
      err.println("courier: " + ex.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
      err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for the options.");
      err.flush();
      return USAGE;
    }
  }

  /** Implemented by commands that take {@code --verbose}. */
  public interface Verbosity {
    boolean verbose();
  }

  /** The version from the jar's manifest, or "development build" when run from classes. */
  public static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = CourierCli.class.getPackage().getImplementationVersion();
      return new String[] {"courier " + (v == null ? "(development build)" : v)};
    }
  }
}
