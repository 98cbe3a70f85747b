package dev.courier.deadletter;

import java.util.List;

/**
 * What a replay did (or, for a dry run, would do).
 *
 * @param replayId the replay's id
 * @param replayed how many dead letters were enqueued again (for a replay submitted before: how
 *     many the first submission enqueued)
 * @param alreadySubmitted true when this replay id had been submitted before; nothing was enqueued
 *     this time
 * @param dryRun true when nothing was changed
 * @param items the dead-letter ids replayed
 * @param alreadyProcessed ids whose event the consumer's ledger already holds: marked replayed
 *     without enqueueing, since the consumer would skip them as duplicates
 * @param skipped ids that cannot be replayed (no event id, type or destination was decoded), with
 *     the reason
 */
public record ReplayResult(
    String replayId,
    int replayed,
    boolean alreadySubmitted,
    boolean dryRun,
    List<Long> items,
    List<Long> alreadyProcessed,
    List<Skipped> skipped) {

  public ReplayResult {
    items = List.copyOf(items);
    alreadyProcessed = List.copyOf(alreadyProcessed);
    skipped = List.copyOf(skipped);
  }

  /** A dead letter left alone, and why. */
  public record Skipped(long id, String why) {}
}
