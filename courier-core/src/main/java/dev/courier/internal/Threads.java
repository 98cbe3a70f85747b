package dev.courier.internal;

import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads taken from a caller's {@link ThreadFactory} and given Courier's names. The factory decides
 * what kind of thread it is (platform or virtual, daemon, priority, context class loader, uncaught
 * exception handler); Courier names it, so that the {@code thread} field of a log line reads the
 * same whichever factory made the thread. Public only so that the adapters share it; not part of
 * the API.
 */
public final class Threads {
  /**
   * What a component uses when it is given no factory: daemon platform threads, so that a component
   * nobody closed does not keep the JVM alive. Safe for concurrent use.
   */
  public static final ThreadFactory DAEMON_PLATFORM = Thread.ofPlatform().daemon(true).factory();

  private Threads() {}

  /**
   * A new thread from {@code factory} running {@code task}, named {@code name}, not started.
   *
   * @throws IllegalStateException if the factory returned no thread
   */
  public static Thread unstarted(ThreadFactory factory, String name, Runnable task) {
    Objects.requireNonNull(task, "task");
    Thread t = factory.newThread(task);
    if (t == null) {
      throw new IllegalStateException("the thread factory returned no thread for " + name);
    }
    t.setName(name);
    return t;
  }

  /**
   * Starts a new thread from {@code factory} running {@code task}, named {@code name}.
   *
   * @throws IllegalStateException if the factory returned no thread
   */
  public static Thread start(ThreadFactory factory, String name, Runnable task) {
    Thread t = unstarted(factory, name, task);
    t.start();
    return t;
  }

  /**
   * A factory for an executor that hands out {@code factory}'s threads, each named {@code name}: for
   * one-thread executors. Like any factory it returns null when {@code factory} does, which the
   * executor treats as a refusal.
   */
  public static ThreadFactory named(ThreadFactory factory, String name) {
    Objects.requireNonNull(factory, "factory");
    Objects.requireNonNull(name, "name");
    return task -> named(factory.newThread(task), name);
  }

  /**
   * A factory for an executor that hands out {@code factory}'s threads named {@code prefix}
   * followed by 1, 2, 3 ... Safe for concurrent use if {@code factory} is.
   */
  public static ThreadFactory numbered(ThreadFactory factory, String prefix) {
    Objects.requireNonNull(factory, "factory");
    Objects.requireNonNull(prefix, "prefix");
    AtomicInteger next = new AtomicInteger();
    return task -> named(factory.newThread(task), prefix + next.incrementAndGet());
  }

  private static Thread named(Thread t, String name) {
    if (t != null) {
      t.setName(name);
    }
    return t;
  }
}
