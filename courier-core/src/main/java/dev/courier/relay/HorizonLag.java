package dev.courier.relay;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;

/**
 * How far PostgreSQL's transaction horizon lagged at one moment, and who held it back.
 *
 * <p>The horizon is {@code pg_snapshot_xmin(pg_current_snapshot())}: every transaction with a
 * lower id has ended, so rows written by those transactions are all there is below it. It stands
 * at the oldest transaction id still running in the cluster, whichever database that transaction
 * runs in, or at {@code nextXid} when no transaction holding an id runs at all. Read-only
 * transactions take no id and do not hold it.
 *
 * @param horizon {@code pg_snapshot_xmin(pg_current_snapshot())}, a 64-bit transaction id
 * @param nextXid {@code pg_snapshot_xmax(pg_current_snapshot())}: one past the newest transaction id
 *     known to have ended when the horizon was read; ids from it on were still running or not yet
 *     assigned. It equals {@code horizon} when no id below it is running, which is also the case
 *     while the holder has the newest id of all and nothing after it has ended
 * @param holder the transaction at the horizon, or {@code null} when nothing holds it back or the
 *     holder was not found (it ended while the horizon was being read, or the monitoring role
 *     cannot see it)
 * @param heldSince since when the horizon has been held at {@code horizon}, as far as can be told:
 *     the holder's transaction start or prepare time; when the monitoring role may not see those,
 *     when the {@link HorizonMonitor} first saw the horizon at this id (then {@link #age()} is a
 *     lower bound). {@code null} when nothing holds it back
 * @param measuredAt when it was read, by the monitor's clock
 */
public record HorizonLag(
    long horizon, long nextXid, HorizonHolder holder, Instant heldSince, Instant measuredAt) {

  public HorizonLag {
    Objects.requireNonNull(measuredAt, "measuredAt");
    if (nextXid < horizon) {
      throw new IllegalArgumentException(
          "nextXid (" + nextXid + ") must not be below the horizon (" + horizon + ")");
    }
  }

  /** Whether a running transaction holds the horizon back at all. */
  public boolean heldBack() {
    return horizon < nextXid || holder != null;
  }

  /**
   * How long the horizon has been held back at {@link #measuredAt()}: the age of the holder's
   * transaction (an upper bound, since a transaction takes its id at its first write, which may
   * come after its start), or, when its start is not visible, how long the monitor has seen the
   * horizon stand at this id (a lower bound). Zero when nothing holds it back.
   */
  public Duration age() {
    if (heldSince == null) {
      return Duration.ZERO;
    }
    Duration d = Duration.between(heldSince, measuredAt);
    return d.isNegative() ? Duration.ZERO : d;
  }

  /**
   * How many transaction ids were assigned since the holder's: {@code nextXid - horizon}. Each one
   * is a transaction whose rows a relay reading below the horizon cannot publish yet, unless it
   * wrote nothing to the outbox.
   */
  public long xidDistance() {
    return nextXid - horizon;
  }

  /** One sentence for logs and health reports; names the holder but never a query's text. */
  public String describe() {
    if (!heldBack()) {
      return "no transaction holds the horizon back (xid " + horizon + ")";
    }
    String who =
        holder == null
            ? "an unidentified transaction (it ended while the horizon was read, or this role cannot"
                + " see it)"
            : holder.describe();
    boolean lowerBound = holder == null || holder.since() == null;
    return String.format(
        Locale.ROOT,
        "%s holds the horizon at xid %d, %,d transaction id%s behind, for %s%ds",
        who,
        horizon,
        xidDistance(),
        xidDistance() == 1 ? "" : "s",
        lowerBound ? "at least " : "",
        age().toSeconds());
  }
}
