package dev.courier.deadletter;

/** Where a dead letter stands. Stored as text; never renamed once released. */
public enum DeadLetterStatus {
  /** Parked, waiting for an operator. */
  DEAD,
  /** An operator replayed it: it was enqueued again for its consumer. */
  REPLAYED,
  /** An operator discarded it, with a reason. */
  DISCARDED,
  /**
   * Not tried yet: in ordered mode it waits behind an earlier dead letter of its key, and is
   * released in order when that one is replayed.
   */
  PARKED
}
