package dev.courier.internal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Reading a broker client's futures without waiting. Public only so adapters can share it. */
public final class Futures {
  private Futures() {}

  /**
   * The failure of a future that has already failed, or {@code null} if it succeeded, is still
   * pending or was cancelled. Never blocks.
   */
  public static Throwable failureOf(Future<?> f) {
    if (!f.isDone() || f.isCancelled()) {
      return null;
    }
    try {
      f.get(0, TimeUnit.NANOSECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause() != null ? e.getCause() : e;
    } catch (TimeoutException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
