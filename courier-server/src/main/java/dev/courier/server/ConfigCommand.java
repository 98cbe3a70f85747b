package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code courier config}: checks the configuration and prints every value in force with where it
 * came from. Secrets are masked. Exit code 2 if a value is invalid.
 */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description =
        "Check the configuration and print each value in force with its source (secrets masked).")
final class ConfigCommand implements Callable<Integer>, CourierCli.Verbosity {
  @ParentCommand CourierCli cli;
  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin DatabaseOptions database;
  @Mixin KafkaOptions kafka;
  @Mixin RelayOptions relay;

  @Override
  public boolean verbose() {
    return common != null && common.verbose;
  }

  @Override
  public Integer call() {
    CourierConfig config =
        relay.apply(kafka.apply(database.apply(common.loader(cli.environment())))).load();
    PrintWriter out = spec.commandLine().getOut();
    out.print(config.describe());
    out.flush();
    return CourierCli.OK;
  }
}
