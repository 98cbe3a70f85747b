package dev.courier.admin;

import java.time.Instant;

/**
 * One operator change as the audit trail holds it.
 *
 * @param id the entry's id, increasing
 * @param at when the change committed (the clock of the process that made it)
 * @param operator who made it
 * @param action what kind of change, such as {@code dlq.replay} or {@code outbox.retry}
 * @param reason why, or {@code null}
 * @param target the selection it applied to, as JSON (ids or filter fields)
 * @param affected how many rows it changed
 * @param replayId the replay id for replays, else {@code null}
 */
public record AuditEntry(
    long id,
    Instant at,
    String operator,
    String action,
    String reason,
    String target,
    int affected,
    String replayId) {}
