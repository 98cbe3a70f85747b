package dev.courier.server.config;

import java.time.Duration;
import java.util.Optional;

/**
 * When readiness degrades, and when the dead-letter alert listener fires. Checked together when the
 * configuration is loaded: {@code deadLetterWindow >= checkInterval}.
 *
 * @param outboxMaxAge readiness fails while the oldest pending outbox event is older than this
 * @param deadLetterGrowth readiness fails, and the alert listener fires, when a dead-letter queue
 *     (a consumer's, or the outbox's dead rows) grows by more than this within {@code
 *     deadLetterWindow}
 * @param deadLetterWindow the sliding window dead-letter growth is measured over
 * @param checkInterval how often dead letters are counted and the transaction horizon is read
 * @param horizonMaxLag readiness fails while a transaction has held PostgreSQL's transaction
 *     horizon back for longer than this; empty when that check is off
 */
public record HealthSettings(
    Duration outboxMaxAge,
    long deadLetterGrowth,
    Duration deadLetterWindow,
    Duration checkInterval,
    Optional<Duration> horizonMaxLag) {}
