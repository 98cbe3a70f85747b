package dev.courier.server.demo;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the demo has started, closed in reverse order exactly once, whether the run ends normally,
 * fails, or is interrupted with Ctrl-C (the shutdown hook and the main thread may race to close).
 */
final class Resources implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Resources.class);

  private record Entry(String what, AutoCloseable resource) {}

  private final Deque<Entry> stack = new ArrayDeque<>();
  private final ReentrantLock lock = new ReentrantLock();

  /** Registers a resource and returns it. */
  <T extends AutoCloseable> T add(String what, T resource) {
    lock.lock();
    try {
      stack.push(new Entry(what, resource));
    } finally {
      lock.unlock();
    }
    return resource;
  }

  /** Closes the resources registered after {@code resource}, then it, and forgets them. */
  void closeThrough(AutoCloseable resource) {
    lock.lock();
    try {
      boolean present = stack.stream().anyMatch(e -> e.resource() == resource);
      while (present && !stack.isEmpty()) {
        Entry e = stack.pop();
        closeQuietly(e);
        if (e.resource() == resource) {
          return;
        }
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      while (!stack.isEmpty()) {
        closeQuietly(stack.pop());
      }
    } finally {
      lock.unlock();
    }
  }

  private static void closeQuietly(Entry e) {
    try {
      e.resource().close();
    } catch (Exception ex) {
      log.warn("closing {} failed: {}", e.what(), ex.toString());
    }
  }
}
