package dev.courier.spi;

/**
 * A running consumer of one destination, created by {@link Transport#subscribe}. It delivers each
 * event to an {@link dev.courier.inbox.IdempotentProcessor} and acknowledges the delivery to the
 * broker only after the processor's outcome is committed in the database.
 *
 * <p>Thread-safe.
 */
public interface Subscription extends AutoCloseable {

  /** True until the subscription stopped, by {@link #close()}, {@link #crash()} or a fatal error. */
  boolean isRunning();

  /**
   * Deliveries received from the broker so far, duplicates and malformed records included. For
   * tests and progress reports.
   */
  long received();

  /**
   * Stops gracefully: the delivery in hand finishes and is acknowledged if its outcome committed;
   * nothing else is taken. Idempotent.
   */
  @Override
  void close();

  /**
   * Stops at once, acknowledging nothing more, and drops the broker connection, as a killed
   * process would. Unacknowledged deliveries are redelivered to the next subscriber. For tests and
   * fault-injection demos.
   */
  void crash();
}
