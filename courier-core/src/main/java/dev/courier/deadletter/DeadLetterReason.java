package dev.courier.deadletter;

/** Why an event was dead-lettered. Stored as text; never renamed once released. */
public enum DeadLetterReason {
  /** The handler failed on every allowed attempt. */
  HANDLER_FAILED,
  /** The handler declared the event unprocessable ({@link dev.courier.PoisonEventException}). */
  POISON,
  /** The record could not be decoded: missing or invalid event id, bad headers. */
  MALFORMED,
  /** The record is larger than the consumer accepts. */
  OVERSIZED,
  /** No handler is registered for the event's type. */
  UNKNOWN_TYPE,
  /**
   * Not tried: in ordered mode an earlier event of the same key is dead-lettered, and this one
   * waits behind it (status {@link DeadLetterStatus#PARKED}) until that one is replayed.
   */
  PARKED
}
