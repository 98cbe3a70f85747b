package dev.courier.server.config;

import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import java.time.Duration;

/**
 * How the relay claims, publishes and retries. Checked together when the configuration is loaded:
 * {@code maxBackoff >= initialBackoff}, {@code lease >= 2 x publishTimeout}, {@code maxPollInterval
 * >= minPollInterval}, {@code 3 x heartbeatInterval <= lease}.
 *
 * @param relayId the relay's id, or {@code null} for the host name (see {@code
 *     Relay.Builder#relayId})
 * @param heartbeatInterval log mode: how often partition leases are renewed, or {@code null} for a
 *     sixth of the lease
 * @param stallLimit log mode: how long a failing event may hold its partition's cursor while others
 *     are confirmed
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
    Duration maxPollInterval,
    Duration heartbeatInterval,
    Duration stallLimit) {

  /** The publish retry policy these settings describe (exponential, full jitter). */
  public RetryPolicy retryPolicy() {
    return RetryPolicy.builder()
        .maxAttempts(maxAttempts)
        .initialDelay(initialBackoff)
        .maxDelay(maxBackoff)
        .build();
  }
}
