package dev.courier.bench;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;

/**
 * Runs {@code clients} writers, each on its own connection, each committing one transaction after
 * another as fast as it can (a closed loop), and counts the commits that complete inside the
 * measured window after the warm-up.
 */
final class ClosedLoop {

  /** The body of one transaction; the loop commits after it returns. */
  @FunctionalInterface
  interface Transaction {
    /**
     * @param connection the client's connection, not in auto-commit mode
     * @param client which client, from 0
     * @param seq this client's transaction number, from 0
     */
    void run(Connection connection, int client, long seq) throws Exception;
  }

  private ClosedLoop() {}

  /**
   * Transactions per second committed by {@code clients} writers during {@code measure}, after
   * {@code warmup}.
   *
   * @throws IllegalStateException if a transaction fails (a benchmark that errors measures nothing)
   */
  static double commitsPerSecond(
      DataSource dataSource, int clients, Duration warmup, Duration measure, Transaction tx) {
    LongAdder counted = new LongAdder();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch ready = new CountDownLatch(clients);
    CountDownLatch go = new CountDownLatch(1);
    long[] window = new long[2];
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      int client = i;
      threads.add(
          Thread.ofPlatform()
              .name("bench-writer-" + i)
              .start(
                  () -> {
                    try (Connection c = dataSource.getConnection()) {
                      c.setAutoCommit(false);
                      ready.countDown();
                      go.await();
                      long from = window[0];
                      long to = window[1];
                      long seq = 0;
                      while (failure.get() == null) {
                        tx.run(c, client, seq++);
                        c.commit();
                        long now = System.nanoTime();
                        if (now - to >= 0) {
                          break;
                        }
                        if (now - from >= 0) {
                          counted.increment();
                        }
                      }
                    } catch (Throwable t) {
                      failure.compareAndSet(null, t);
                      ready.countDown();
                    }
                  }));
    }
    try {
      ready.await();
      long start = System.nanoTime();
      window[0] = start + warmup.toNanos();
      window[1] = window[0] + measure.toNanos();
      go.countDown();
      for (Thread t : threads) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while measuring", e);
    }
    Throwable t = failure.get();
    if (t != null) {
      String usage = t instanceof java.sql.SQLTransientConnectionException ? "; " + BenchEnvironment.connectionUsage(dataSource) : "";
      throw new IllegalStateException("a benchmark transaction failed: " + t + usage, t);
    }
    return counted.sum() / (measure.toNanos() / 1e9);
  }
}
