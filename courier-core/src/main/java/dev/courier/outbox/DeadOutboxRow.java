package dev.courier.outbox;

import java.time.Instant;
import java.util.UUID;

/**
 * An outbox row parked as dead by the relay. Holds no payload.
 *
 * @param seq the row's number; {@code courier outbox retry ID} takes it
 * @param eventId the event id
 * @param type the event type
 * @param destination the destination
 * @param key the ordering key, or {@code null}
 * @param attempts publish attempts made
 * @param lastError the last publish error
 * @param createdAt when the event was written
 * @param deadAt when it was parked
 */
public record DeadOutboxRow(
    long seq,
    UUID eventId,
    String type,
    String destination,
    String key,
    int attempts,
    String lastError,
    Instant createdAt,
    Instant deadAt) {}
