package dev.courier.outbox;

import java.util.List;
import java.util.UUID;

/**
 * What a history replay did (or, for a dry run, would do).
 *
 * @param replayId the replay's id
 * @param replayed events put back in the outbox (for a replay submitted before: how many the first
 *     submission put back)
 * @param alreadySubmitted true when this replay id had been submitted before; nothing was enqueued
 * @param dryRun true when nothing was changed
 * @param eventIds the events replayed, in the order they were enqueued (creation order)
 * @param alreadyPending events that were still waiting in the outbox and were left as they were
 * @param target where the events were sent and for which consumer (for a replay submitted before:
 *     the first submission's)
 */
public record HistoryReplayResult(
    String replayId,
    int replayed,
    boolean alreadySubmitted,
    boolean dryRun,
    List<UUID> eventIds,
    List<UUID> alreadyPending,
    ReplayTarget target) {

  public HistoryReplayResult {
    eventIds = List.copyOf(eventIds);
    alreadyPending = List.copyOf(alreadyPending);
    target = target == null ? ReplayTarget.ORIGINAL : target;
  }

  /** A result of a replay to the events' own destinations, for every consumer. */
  public HistoryReplayResult(
      String replayId,
      int replayed,
      boolean alreadySubmitted,
      boolean dryRun,
      List<UUID> eventIds,
      List<UUID> alreadyPending) {
    this(replayId, replayed, alreadySubmitted, dryRun, eventIds, alreadyPending, ReplayTarget.ORIGINAL);
  }
}
