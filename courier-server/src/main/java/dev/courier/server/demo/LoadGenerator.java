package dev.courier.server.demo;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;

/**
 * Runs work items at a fixed rate for a fixed time, open-loop: item {@code i} is due at {@code
 * start + i / rate} whatever happened to earlier ones, and up to {@code writers} items run at once.
 * A slow item delays only its writer; the others keep to the schedule, and a writer that falls
 * behind catches up without sleeping.
 */
final class LoadGenerator {
  private final double ratePerSecond;
  private final Duration duration;
  private final int writers;
  private final AtomicLong next = new AtomicLong();
  private volatile boolean stopped;
  private volatile long startNanos;

  LoadGenerator(double ratePerSecond, Duration duration, int writers) {
    this.ratePerSecond = ratePerSecond;
    this.duration = duration;
    this.writers = writers;
  }

  /** The number of items the full run starts. */
  long plannedItems() {
    return (long) Math.floor(duration.toNanos() / 1e9 * ratePerSecond);
  }

  /**
   * Runs {@code item} for every due index and returns when all have finished or on {@link #stop()}.
   */
  void run(LongConsumer item) throws InterruptedException {
    long total = plannedItems();
    double intervalNanos = 1e9 / ratePerSecond;
    startNanos = System.nanoTime();
    List<Thread> threads = new ArrayList<>(writers);
    for (int w = 0; w < writers; w++) {
      threads.add(
          Thread.ofVirtual()
              .name("courier-demo-checkout-" + w)
              .start(
                  () -> {
                    while (!stopped) {
                      long i = next.getAndIncrement();
                      if (i >= total) {
                        return;
                      }
                      long due = startNanos + (long) (i * intervalNanos);
                      for (long wait = due - System.nanoTime();
                          wait > 0 && !stopped;
                          wait = due - System.nanoTime()) {
                        LockSupport.parkNanos(wait);
                      }
                      if (!stopped) {
                        item.accept(i);
                      }
                    }
                  }));
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  /** Stops starting new items; items in progress finish. */
  void stop() {
    stopped = true;
  }

  /** Time since the run started, or zero before it. */
  Duration elapsed() {
    long s = startNanos;
    return s == 0 ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - s);
  }
}
