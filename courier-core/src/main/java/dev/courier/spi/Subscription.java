package dev.courier.spi;

import java.util.Optional;

/**
 * A running consumer of one destination, created by {@link Transport#subscribe}. It delivers each
 * event to an {@link dev.courier.inbox.IdempotentProcessor} and acknowledges the delivery to the
 * broker only after the processor's outcome is committed in the database.
 *
 * <p>Thread-safe.
 */
public interface Subscription extends AutoCloseable {

  /** Where a subscription is in its life; the same on every transport. */
  enum State {
    /** Built, not started yet. */
    NEW,
    /** Consuming. */
    RUNNING,
    /** The broker connection was lost and is being re-established; still counts as running. */
    RECONNECTING,
    /** {@link #close()} was called: the delivery in hand finishes and is acknowledged. */
    STOPPING,
    /** Stopped by {@link #close()}. */
    STOPPED,
    /**
     * Stopped at once without acknowledging, by {@link #crash()} or by an after-commit hook that
     * threw; {@link #failure()} says which.
     */
    CRASHED,
    /** Stopped on its own because consuming cannot go on; {@link #failure()} says why. */
    FAILED;

    /** Whether the subscription still takes deliveries: {@link #RUNNING} or {@link #RECONNECTING}. */
    public boolean isRunning() {
      return this == RUNNING || this == RECONNECTING;
    }

    /** Whether the subscription has stopped for good. */
    public boolean isTerminal() {
      return this == STOPPED || this == CRASHED || this == FAILED;
    }
  }

  /** Where the subscription is in its life. */
  State state();

  /**
   * Why the subscription stopped, when {@link #state()} is {@link State#FAILED} or {@link
   * State#CRASHED}; empty otherwise.
   */
  Optional<Throwable> failure();

  /** True until the subscription stopped, by {@link #close()}, {@link #crash()} or a fatal error. */
  default boolean isRunning() {
    return state().isRunning();
  }

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
