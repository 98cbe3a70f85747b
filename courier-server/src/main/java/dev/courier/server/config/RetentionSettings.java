package dev.courier.server.config;

import dev.courier.admin.Retention;
import java.time.Duration;
import java.util.Optional;

/**
 * How long Courier keeps what it no longer needs; an empty horizon keeps it forever.
 *
 * @param ledger processed-events ledger rows older than this are pruned. Deduplication holds only
 *     inside this horizon
 * @param published published outbox rows older than this leave the outbox
 * @param archive archived events older than this are deleted
 * @param archivePublished whether published rows go to the archive (else they are deleted)
 * @param deadLetters dead letters replayed or discarded longer ago than this are deleted
 * @param audit audit entries older than this are deleted
 * @param interval how often {@code courier relay} and {@code courier serve} prune on their own;
 *     empty: only when {@code courier prune} is run
 */
public record RetentionSettings(
    Optional<Duration> ledger,
    Optional<Duration> published,
    Optional<Duration> archive,
    boolean archivePublished,
    Optional<Duration> deadLetters,
    Optional<Duration> audit,
    Optional<Duration> interval) {

  /** The horizons as a prune policy. */
  public Retention.Policy policy() {
    return new Retention.Policy(
        ledger.orElse(null),
        published.orElse(null),
        archive.orElse(null),
        archivePublished,
        deadLetters.orElse(null),
        audit.orElse(null));
  }
}
