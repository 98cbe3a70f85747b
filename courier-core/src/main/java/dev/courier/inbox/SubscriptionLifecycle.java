package dev.courier.inbox;

import dev.courier.spi.Subscription;
import dev.courier.spi.Subscription.State;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The life of one {@link Subscription}, kept the same way by every transport: its {@link State},
 * why it stopped, and the signal that ends its waits when it is stopped. A transport's subscription
 * holds one, moves it through its states, and hands it to its {@link DeliveryPipeline}, which reads
 * it to know whether a delivery may still be acknowledged and whether to keep waiting.
 *
 * <p>The states only move forward: {@code NEW → RUNNING ⇄ RECONNECTING → STOPPING → STOPPED}, and
 * from any state that is not terminal to {@code CRASHED} or {@code FAILED}. A move that is not
 * allowed from the current state is ignored and reported by the return value.
 *
 * <p>Thread-safe.
 */
public final class SubscriptionLifecycle {
  private final ReentrantLock lock = new ReentrantLock();
  private final CountDownLatch stopSignal = new CountDownLatch(1);
  private volatile State state;
  private volatile Throwable failure;

  /** A lifecycle in state {@link State#NEW}. */
  public SubscriptionLifecycle() {
    this.state = State.NEW;
  }

  public State state() {
    return state;
  }

  /** Why the subscription crashed or failed; empty in every other state. */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(failure);
  }

  /** Whether deliveries are still taken: {@link State#isRunning()}. */
  public boolean isRunning() {
    return state.isRunning();
  }

  /**
   * Whether a delivery whose outcome committed may still be acknowledged: while running and while
   * stopping gracefully, never after a crash (a process killed at that point acknowledges nothing).
   */
  public boolean mayAcknowledge() {
    State s = state;
    return s.isRunning() || s == State.STOPPING;
  }

  /** Whether {@link #stop()}, {@link #crash} or {@link #fail} was called. */
  public boolean stopRequested() {
    return stopSignal.getCount() == 0;
  }

  /** {@code NEW → RUNNING}; false if it was not new. */
  public boolean started() {
    return move(State.RUNNING, State.NEW);
  }

  /** {@code RUNNING → RECONNECTING}; false otherwise. */
  public boolean reconnecting() {
    return move(State.RECONNECTING, State.RUNNING);
  }

  /** {@code RECONNECTING → RUNNING}; false otherwise. */
  public boolean reconnected() {
    return move(State.RUNNING, State.RECONNECTING);
  }

  /**
   * Asks for a graceful stop: a new lifecycle becomes {@link State#STOPPED} at once, a running one
   * {@link State#STOPPING}, and every {@link #await wait} ends.
   *
   * @return true if this call began the stop (the caller then stops the consumer), false if it was
   *     stopping or stopped already
   */
  public boolean stop() {
    lock.lock();
    try {
      stopSignal.countDown();
      if (state == State.NEW) {
        state = State.STOPPED;
        return false;
      }
      return move(State.STOPPING, State.RUNNING, State.RECONNECTING);
    } finally {
      lock.unlock();
    }
  }

  /** {@code STOPPING → STOPPED} (and {@code RUNNING}, {@code RECONNECTING}); never undoes a crash. */
  public void stopped() {
    stopSignal.countDown();
    move(State.STOPPED, State.NEW, State.RUNNING, State.RECONNECTING, State.STOPPING);
  }

  /**
   * Stops at once without acknowledging anything more: {@link State#CRASHED}, with {@code why} as
   * the {@link #failure()}.
   *
   * @return false if it had stopped already
   */
  public boolean crash(Throwable why) {
    return end(State.CRASHED, why);
  }

  /**
   * Stops because consuming cannot go on: {@link State#FAILED}, with {@code why} as the {@link
   * #failure()}.
   *
   * @return false if it had stopped already
   */
  public boolean fail(Throwable why) {
    return end(State.FAILED, why);
  }

  /**
   * Waits for {@code duration} unless a stop is asked for first.
   *
   * @return true if the whole duration passed, false if the wait ended because of a stop (or an
   *     interrupt, whose flag is kept)
   */
  public boolean await(Duration duration) {
    try {
      return !stopSignal.await(Math.max(0, duration.toNanos()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public String toString() {
    return state.toString();
  }

  private boolean end(State terminal, Throwable why) {
    lock.lock();
    try {
      stopSignal.countDown();
      if (state.isTerminal()) {
        return false;
      }
      failure = why;
      state = terminal;
      return true;
    } finally {
      lock.unlock();
    }
  }

  private boolean move(State to, State... from) {
    lock.lock();
    try {
      for (State f : from) {
        if (state == f) {
          state = to;
          return true;
        }
      }
      return false;
    } finally {
      lock.unlock();
    }
  }
}
