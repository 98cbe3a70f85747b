package dev.courier.server.config;

import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import java.time.Duration;
import java.util.List;

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
 * @param transport the broker {@code courier relay} publishes to
 * @param destinations destinations checked when the relay starts, besides those of the outbox's
 *     pending rows (a JetStream stream's duplicate window must cover the relay's retry horizon)
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
    Duration stallLimit,
    TransportKind transport,
    List<String> destinations) {

  public RelaySettings {
    destinations = List.copyOf(destinations);
  }

  /**
   * The longest time from an event's first publish to its last attempt under these settings
   * ({@link Relay#retryHorizon()}): a JetStream stream's duplicate window must cover it.
   */
  public Duration retryHorizon() {
    return Relay.retryHorizon(retryPolicy(), publishTimeout, maxPollInterval);
  }

  /** The publish retry policy these settings describe (exponential, full jitter). */
  public RetryPolicy retryPolicy() {
    return RetryPolicy.builder()
        .maxAttempts(maxAttempts)
        .initialDelay(initialBackoff)
        .maxDelay(maxBackoff)
        .build();
  }
}
