package dev.courier.outbox;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A snapshot of the outbox, for operators and health checks.
 *
 * @param pending rows waiting to be published (including rows backing off)
 * @param dead rows parked as dead
 * @param oldestPendingCreatedAt creation time of the oldest pending row, or {@code null}
 * @param takenAt when the snapshot was taken
 * @param destinations the same figures per destination
 */
public record OutboxStatus(
    long pending,
    long dead,
    Instant oldestPendingCreatedAt,
    Instant takenAt,
    List<Destination> destinations) {

  public OutboxStatus {
    destinations = List.copyOf(destinations);
  }

  /** Age of the oldest pending row at {@link #takenAt()}, zero when nothing is pending. */
  public Duration oldestPendingAge() {
    if (oldestPendingCreatedAt == null) {
      return Duration.ZERO;
    }
    Duration d = Duration.between(oldestPendingCreatedAt, takenAt);
    return d.isNegative() ? Duration.ZERO : d;
  }

  /** Per-destination figures. */
  public record Destination(String destination, long pending, long dead, Instant oldestPendingCreatedAt) {}
}
