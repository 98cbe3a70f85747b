package dev.courier.server.demo;

import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.EventLog;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one subscription of a consumer running, the way a process supervisor (systemd, Kubernetes)
 * keeps a service running: when the subscription stops, it is closed and a new one is started
 * through {@link Transport#subscribe} with the same consumer name, so it takes over the same Kafka
 * group, RabbitMQ queue or JetStream durable consumer.
 *
 * <p>It also injects the crash, through {@link SubscriptionSpec#withAfterCommit}: after an event's
 * effect committed and before the broker is told (offset commit, {@code basic.ack}, JetStream ack),
 * with probability {@code crashRate}, the hook throws {@link SubscriptionSpec.SimulatedCrash} and
 * the subscription dies without acknowledging. The broker then delivers the unacknowledged events
 * to the next subscription, and the processed-events ledger reports the ones whose effect had
 * already committed as duplicates. The same hook measures end-to-end latency, since it runs right
 * after the effect's commit.
 *
 * <p>Thread-safe.
 */
final class ConsumerSupervisor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ConsumerSupervisor.class);
  private static final Duration WATCH_INTERVAL = Duration.ofMillis(25);

  private final String name;
  private final Transport transport;
  private final IntFunction<SubscriptionSpec> specs;
  private final IdempotentProcessor processor;
  private final AppliedEvents applied;
  private final double crashRate;
  private final DemoStats stats;

  private final AtomicInteger crashes = new AtomicInteger();
  private final AtomicInteger unexpectedFailures = new AtomicInteger();
  private final AtomicBoolean crashInjected = new AtomicBoolean();
  private final ReentrantLock lock = new ReentrantLock();
  private int generation; // the watchdog's after start()
  private long receivedBefore; // deliveries of replaced subscriptions; guarded by lock
  private volatile Subscription current;
  private volatile boolean closed;
  private Thread watchdog;

  /**
   * @param name the consumer's name, the processor's
   * @param transport subscribes the consumer
   * @param specs the subscription of each instance, numbered from 1
   * @param processor the consumer's idempotent processor, whose handler {@code applied} wraps
   * @param applied tells the hook whether an event was applied just now
   * @param crashRate the chance, per applied event, of a crash before the acknowledgement
   */
  ConsumerSupervisor(
      String name,
      Transport transport,
      IntFunction<SubscriptionSpec> specs,
      IdempotentProcessor processor,
      AppliedEvents applied,
      double crashRate,
      DemoStats stats) {
    this.name = name;
    this.transport = transport;
    this.specs = specs;
    this.processor = processor;
    this.applied = applied;
    this.crashRate = crashRate;
    this.stats = stats;
  }

  String name() {
    return name;
  }

  /** Crashes injected so far. */
  int crashes() {
    return crashes.get();
  }

  /** Subscription deaths that were not injected (each is logged). */
  int unexpectedFailures() {
    return unexpectedFailures.get();
  }

  /** Whether a subscription is consuming now (false between a crash and the restart). */
  boolean isRunning() {
    Subscription s = current;
    return s != null && s.isRunning();
  }

  /**
   * Deliveries handed to the processor by every subscription so far, duplicates included ({@link
   * Subscription#received()} summed over the instances).
   */
  long received() {
    lock.lock();
    try {
      Subscription s = current;
      return receivedBefore + (s == null ? 0 : s.received());
    } finally {
      lock.unlock();
    }
  }

  /** Distinct rolled-back events this consumer's handler was handed (must be 0). */
  long rolledBackHandled() {
    return applied.rolledBackHandled();
  }

  void start() {
    lock.lock();
    try {
      current = launch();
    } finally {
      lock.unlock();
    }
    watchdog = Thread.ofVirtual().name("courier-demo-supervisor-" + name).start(this::watch);
  }

  private Subscription launch() {
    generation++;
    return transport.subscribe(
        specs.apply(generation).withAfterCommit(this::afterCommit), processor);
  }

  private void afterCommit(Event event) {
    if (!applied.takeApplied(event.id())) {
      return; // a duplicate or a dead letter: nothing was applied just now
    }
    long micros = Duration.between(event.createdAt(), Instant.now()).toNanos() / 1000;
    stats.recordLatency(micros);
    if (crashRate > 0 && !closed && ThreadLocalRandom.current().nextDouble() < crashRate) {
      crashes.incrementAndGet();
      crashInjected.set(true);
      try (EventLog ignored = EventLog.of(event).with(EventLog.CONSUMER, name)) {
        log.warn(
            "fault injection: consumer {} crashes now, after this event's effect committed and"
                + " before the broker is acknowledged",
            name);
      }
      throw new SubscriptionSpec.SimulatedCrash(
          "simulated crash between the database commit and the broker acknowledgement (demo fault"
              + " injection)");
    }
  }

  private void watch() {
    while (!closed) {
      try {
        Thread.sleep(WATCH_INTERVAL);
      } catch (InterruptedException e) {
        return;
      }
      Subscription s = current;
      if (s.isRunning()) {
        continue;
      }
      if (!crashInjected.getAndSet(false)) {
        unexpectedFailures.incrementAndGet();
        log.error("consumer {} stopped unexpectedly (see the log above); restarting it", name);
      }
      lock.lock();
      try {
        if (closed) {
          return;
        }
        s.close();
        receivedBefore += s.received();
        current = null;
      } finally {
        lock.unlock();
      }
      if (!restart()) {
        return;
      }
    }
  }

  /** Starts the next instance, trying every second until it starts; false when closed meanwhile. */
  private boolean restart() {
    while (!closed) {
      Subscription next;
      try {
        next = launch();
      } catch (RuntimeException e) {
        unexpectedFailures.incrementAndGet();
        log.error(
            "consumer {} could not be restarted; trying again in a second: {}", name, e.toString());
        if (!pauseAfterFailedRestart()) {
          return false;
        }
        continue;
      }
      lock.lock();
      try {
        if (closed) {
          next.close();
          return false;
        }
        current = next;
      } finally {
        lock.unlock();
      }
      log.info("consumer {} restarted as instance {}", name, generation);
      return true;
    }
    return false;
  }

  private static boolean pauseAfterFailedRestart() {
    try {
      Thread.sleep(Duration.ofSeconds(1));
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Stops the supervision and the current subscription (acknowledging what it finished). */
  @Override
  public void close() {
    closed = true;
    if (watchdog != null) {
      watchdog.interrupt();
      try {
        watchdog.join(Duration.ofSeconds(15));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    lock.lock();
    try {
      Subscription s = current;
      if (s != null) {
        s.close();
      }
    } finally {
      lock.unlock();
    }
  }
}
