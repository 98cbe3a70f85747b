package dev.courier.deadletter;

import dev.courier.Event;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A record a consumer could not process, as it will be stored: what was received (as much of it as
 * could be decoded), where it came from, why it failed and how often it was tried.
 *
 * @param consumer the consumer that gave up
 * @param eventId the event id, or {@code null} when the record carried no valid one
 * @param event the decoded event, or {@code null} when it could not be decoded
 * @param source where the record came from, for example {@code orders-1@1042}
 * @param rawPayload the payload bytes as received, or {@code null}
 * @param rawHeaders the headers as received, values as text
 * @param reason why
 * @param error the last failure
 * @param attempts how many times processing was attempted
 * @param firstFailedAt the first failure
 * @param lastFailedAt the last failure
 */
public record DeadLetter(
    String consumer,
    UUID eventId,
    Event event,
    String source,
    byte[] rawPayload,
    Map<String, String> rawHeaders,
    DeadLetterReason reason,
    Throwable error,
    int attempts,
    Instant firstFailedAt,
    Instant lastFailedAt) {

  /** The key that makes a dead letter unique per consumer: the event id, else the source. */
  public String dedupeKey() {
    return eventId != null ? eventId.toString() : "source:" + source;
  }

  @Override
  public String toString() {
    return "DeadLetter[consumer=" + consumer + ", eventId=" + eventId + ", source=" + source
        + ", reason=" + reason + ", attempts=" + attempts + "]";
  }
}
