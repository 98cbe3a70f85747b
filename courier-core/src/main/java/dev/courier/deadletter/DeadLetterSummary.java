package dev.courier.deadletter;

import java.time.Instant;
import java.util.UUID;

/**
 * One dead letter as a listing shows it: what, whose, why, and where it stands. Holds no payload.
 *
 * @param id the dead letter's id
 * @param eventId the event id, or {@code null} for a record that carried none
 * @param consumer the consumer that gave up
 * @param type the event type, if known
 * @param key the ordering key, if any
 * @param destination where the event was published, if known
 * @param reason why it was dead-lettered
 * @param fingerprint the failure's fingerprint id (see {@link Fingerprint})
 * @param errorClass the exception's class name, if any
 * @param errorMessage the exception's message, if any
 * @param attempts how many times processing was attempted
 * @param firstFailedAt the first failure
 * @param deadAt the last failure, when it was (last) dead-lettered
 * @param status where it stands
 * @param replayId the replay that last re-enqueued it, if any
 * @param resolvedAt when an operator replayed or discarded it, if so
 * @param resolvedBy who did
 * @param resolution the reason given, if any
 */
public record DeadLetterSummary(
    long id,
    UUID eventId,
    String consumer,
    String type,
    String key,
    String destination,
    String reason,
    String fingerprint,
    String errorClass,
    String errorMessage,
    int attempts,
    Instant firstFailedAt,
    Instant deadAt,
    DeadLetterStatus status,
    String replayId,
    Instant resolvedAt,
    String resolvedBy,
    String resolution) {}
