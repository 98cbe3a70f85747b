package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every subcommand takes: where the configuration is, and how much to say on failure. */
final class CommonOptions {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description = "Properties file with courier.* settings (see docs/CONFIGURATION.md).")
  Path configFile;

  @Option(
      names = {"-v", "--verbose"},
      description = "Print stack traces with errors.")
  boolean verbose;

  /** A loader with the file and the process environment; the caller adds its options. */
  CourierConfig.Loader loader(java.util.Map<String, String> environment) {
    return CourierConfig.loader().file(configFile).environment(environment);
  }
}
