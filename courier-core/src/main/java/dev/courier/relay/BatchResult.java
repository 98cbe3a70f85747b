package dev.courier.relay;

/**
 * What one relay pass did.
 *
 * @param claimed rows claimed from the outbox
 * @param published rows the broker confirmed and that were marked published
 * @param retried rows that failed and were scheduled for another attempt
 * @param dead rows parked as dead
 * @param released rows given back unattempted (shutdown)
 */
public record BatchResult(int claimed, int published, int retried, int dead, int released) {
  static final BatchResult EMPTY = new BatchResult(0, 0, 0, 0, 0);
}
