package dev.courier.testkit;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;

/**
 * A thread factory that remembers every thread it made, so that a test can check that a component
 * takes its threads from the factory it was given. The threads themselves come from another
 * factory ({@link #virtual()}: virtual threads; {@link #daemons()}: daemon platform threads).
 * Thread-safe.
 */
public final class RecordingThreadFactory implements ThreadFactory {
  private final ThreadFactory delegate;
  private final List<Thread> made = new CopyOnWriteArrayList<>();

  /** Records the threads {@code delegate} makes. */
  public RecordingThreadFactory(ThreadFactory delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /** Makes virtual threads: a kind no Courier component makes by default. */
  public static RecordingThreadFactory virtual() {
    return new RecordingThreadFactory(Thread.ofVirtual().factory());
  }

  /** Makes daemon platform threads. */
  public static RecordingThreadFactory daemons() {
    return new RecordingThreadFactory(Thread.ofPlatform().daemon(true).factory());
  }

  @Override
  public Thread newThread(Runnable task) {
    Thread t = delegate.newThread(task);
    if (t != null) {
      made.add(t);
    }
    return t;
  }

  /** The threads made so far, oldest first. */
  public List<Thread> threads() {
    return List.copyOf(made);
  }

  /** The current names of the threads made so far, oldest first. */
  public List<String> names() {
    return made.stream().map(Thread::getName).toList();
  }

  /** Whether {@code thread} is one of those this factory made. */
  public boolean made(Thread thread) {
    return made.contains(thread);
  }
}
