package dev.courier.server;

import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import picocli.CommandLine.Option;

/** The relay options most often changed; the rest are in the config file or environment. */
final class RelayOptions {
  @Option(
      names = "--batch-size",
      paramLabel = "N",
      description = "Rows claimed per pass (courier.relay.batch-size).")
  String batchSize;

  @Option(
      names = "--batches-in-flight",
      paramLabel = "N",
      description =
          "Claimed batches publishing at once, 1-16; 2 overlaps the next claim with the broker's"
              + " confirmations (courier.relay.batches-in-flight).")
  String batchesInFlight;

  @Option(
      names = "--claim-mode",
      paramLabel = "lease|lock|log",
      description =
          "How a batch's rows are held while they publish: lease (written into the rows), lock"
              + " (row locks in a transaction kept open until the mark; one row write per event"
              + " instead of two) or log (an outbox turned to log mode with 'courier migrate"
              + " --log-mode': rows are never written, relays share partitions and keep each key's"
              + " order) (courier.relay.claim-mode).")
  String claimMode;

  @Option(
      names = "--max-attempts",
      paramLabel = "N",
      description = "Publish attempts before a row is parked as dead (courier.relay.max-attempts).")
  String maxAttempts;

  @Option(
      names = "--relay-id",
      paramLabel = "ID",
      description = "This relay's id (courier.relay.id).")
  String relayId;

  CourierConfig.Loader apply(CourierConfig.Loader loader) {
    return loader
        .option(Setting.RELAY_BATCH_SIZE, "--batch-size", batchSize)
        .option(Setting.RELAY_BATCHES_IN_FLIGHT, "--batches-in-flight", batchesInFlight)
        .option(Setting.RELAY_CLAIM_MODE, "--claim-mode", claimMode)
        .option(Setting.RELAY_MAX_ATTEMPTS, "--max-attempts", maxAttempts)
        .option(Setting.RELAY_ID, "--relay-id", relayId);
  }
}
