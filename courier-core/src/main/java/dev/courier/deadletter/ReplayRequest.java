package dev.courier.deadletter;

import dev.courier.admin.Attribution;
import dev.courier.admin.InvalidRequestException;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A request to replay dead letters.
 *
 * @param filter which dead letters (only {@code DEAD} ones are replayed)
 * @param replayId the replay's id; the same id submitted again enqueues nothing more. {@code null}
 *     lets the admin make one up (then only the dead letters' own status prevents a second
 *     enqueue)
 * @param dryRun report what would be replayed without changing anything
 * @param ratePerSecond at most this many replayed events become publishable per second (the
 *     relay sees them spread out); 0 for no limit, else at least {@value
 *     dev.courier.admin.ReplayRate#MIN_PER_SECOND}
 * @param limit at most this many dead letters in one replay
 * @param who the operator and reason, for the audit trail
 */
public record ReplayRequest(
    DeadLetterFilter filter,
    String replayId,
    boolean dryRun,
    double ratePerSecond,
    int limit,
    Attribution who) {
  /** The most dead letters one replay takes. */
  public static final int MAX_LIMIT = 100_000;

  private static final Pattern REPLAY_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

  public ReplayRequest {
    Objects.requireNonNull(filter, "filter");
    Objects.requireNonNull(who, "who");
    replayId = replayId == null || replayId.isBlank() ? null : replayId.strip();
    if (replayId != null && !REPLAY_ID.matcher(replayId).matches()) {
      throw new InvalidRequestException(
          "replayId",
          "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
    }
    dev.courier.admin.ReplayRate.check(ratePerSecond);
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new InvalidRequestException("limit", "must be between 1 and " + MAX_LIMIT + ", was " + limit);
    }
  }

  /** A replay of {@code filter} with default settings: no rate limit, up to 10,000 dead letters. */
  public static ReplayRequest of(DeadLetterFilter filter, String replayId, Attribution who) {
    return new ReplayRequest(filter, replayId, false, 0, 10_000, who);
  }
}
