package dev.courier.server.config;

import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import java.time.Duration;

/**
 * How the relay claims, publishes and retries. Checked together when the configuration is loaded:
 * {@code maxBackoff >= initialBackoff}, {@code lease >= 2 x publishTimeout}, {@code maxPollInterval
 * >= minPollInterval}.
 *
 * @param relayId the relay's id, or {@code null} for one derived from host, process and a random
 *     suffix
 */
public record RelaySettings(
    String relayId,
    int batchSize,
    int batchesInFlight,
    Relay.ClaimMode claimMode,
    boolean deletePublished,
    int maxAttempts,
    Duration initialBackoff,
    Duration maxBackoff,
    Duration publishTimeout,
    Duration lease,
    Duration minPollInterval,
    Duration maxPollInterval) {

  /** The publish retry policy these settings describe (exponential, full jitter). */
  public RetryPolicy retryPolicy() {
    return RetryPolicy.builder()
        .maxAttempts(maxAttempts)
        .initialDelay(initialBackoff)
        .maxDelay(maxBackoff)
        .build();
  }
}
