package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import picocli.CommandLine.Option;

/** Where the process serves its metrics and health; the rest is in the config file or environment. */
final class HttpOptions {
  @Option(
      names = "--http-port",
      paramLabel = "PORT",
      description =
          "Port of /metrics, /health/live and /health/ready on 127.0.0.1 (courier.http.port, default"
              + " 9477; 0 picks a free one).")
  String httpPort;

  CourierConfig.Loader apply(CourierConfig.Loader loader) {
    return loader.option(Setting.HTTP_PORT, "--http-port", httpPort);
  }
}
