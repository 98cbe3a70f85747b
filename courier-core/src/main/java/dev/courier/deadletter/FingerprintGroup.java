package dev.courier.deadletter;

import java.time.Instant;
import java.util.List;

/**
 * Parked dead letters that failed the same way (see {@link Fingerprint}).
 *
 * @param fingerprint the fingerprint id; filter on it to replay or discard the group
 * @param exceptionType the exception's class name
 * @param topFrame {@code class.method} of the top stack frame
 * @param messageShape the normalised message
 * @param count how many dead letters are parked with it
 * @param consumers the consumers they belong to, sorted
 * @param firstSeen the earliest first failure in the group
 * @param lastSeen the latest last failure in the group
 */
public record FingerprintGroup(
    String fingerprint,
    String exceptionType,
    String topFrame,
    String messageShape,
    long count,
    List<String> consumers,
    Instant firstSeen,
    Instant lastSeen) {

  public FingerprintGroup {
    consumers = List.copyOf(consumers);
  }
}
