package dev.courier.deadletter;

/**
 * Told when dead letters pile up, so that an application can page from code as well as from
 * Prometheus. A {@link DeadLetterMonitor} calls {@link #onDeadLetterGrowth} when a queue's growth
 * within the window first goes above the threshold (and again, at most once per window, while it
 * keeps growing), and {@link #onDeadLetterGrowthResolved} when it is back at or below it.
 *
 * <p>Calls come from the monitor's thread, one at a time. Implementations should return quickly
 * and must not rely on being called again for the same growth; an exception they throw is logged
 * and ignored. Every method does nothing by default.
 */
public interface AlertListener {

  /** A queue grew by more than the threshold within the window. */
  default void onDeadLetterGrowth(DeadLetterGrowth growth) {}

  /** A queue that was alerting has grown by no more than the threshold within the window. */
  default void onDeadLetterGrowthResolved(DeadLetterGrowth growth) {}

  /**
   * The default listener: an {@code ERROR} log line with the counts when a queue grows too fast, an
   * {@code INFO} line when it stops. The lines carry the fields {@code alert}, {@code
   * dead_letter_queue}, {@code dead_letters} and {@code dead_letters_added}.
   */
  static AlertListener logging() {
    return LoggingAlertListener.INSTANCE;
  }

  /** A listener that does nothing. */
  static AlertListener none() {
    return new AlertListener() {};
  }
}
