package dev.courier.server.demo;

import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.EventLog;
import dev.courier.kafka.KafkaIdempotentConsumer;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one consumer of a group running, the way a process supervisor (systemd, Kubernetes) keeps a
 * service running: when the consumer dies, it is closed and a new instance joins the same group.
 *
 * <p>It also injects the crash: after an event's effect committed and before its offset is
 * committed, with probability {@code crashRate}, the consumer dies. Kafka then delivers the
 * uncommitted records to the new instance, and the processed-events ledger reports the ones whose
 * effect had already committed as duplicates. The same hook measures end-to-end latency, since it
 * runs right after the effect's commit.
 */
final class ConsumerSupervisor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ConsumerSupervisor.class);
  private static final Duration WATCH_INTERVAL = Duration.ofMillis(25);

  private final String name;
  private final String groupId;
  private final String bootstrapServers;
  private final String topic;
  private final Map<String, String> kafkaProperties;
  private final IdempotentProcessor processor;
  private final double crashRate;
  private final DemoStats stats;

  private final AtomicInteger crashes = new AtomicInteger();
  private final AtomicInteger unexpectedFailures = new AtomicInteger();
  private final ReentrantLock lock = new ReentrantLock();
  private int generation;
  private volatile KafkaIdempotentConsumer current;
  private volatile boolean closed;
  private Thread watchdog;

  ConsumerSupervisor(
      String name,
      String groupId,
      String bootstrapServers,
      String topic,
      Map<String, String> kafkaProperties,
      IdempotentProcessor processor,
      double crashRate,
      DemoStats stats) {
    this.name = name;
    this.groupId = groupId;
    this.bootstrapServers = bootstrapServers;
    this.topic = topic;
    this.kafkaProperties = Map.copyOf(kafkaProperties);
    this.processor = processor;
    this.crashRate = crashRate;
    this.stats = stats;
  }

  String name() {
    return name;
  }

  String groupId() {
    return groupId;
  }

  /** Crashes injected so far. */
  int crashes() {
    return crashes.get();
  }

  /** Consumer deaths that were not injected (each is logged). */
  int unexpectedFailures() {
    return unexpectedFailures.get();
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

  private KafkaIdempotentConsumer launch() {
    generation++;
    KafkaIdempotentConsumer c =
        KafkaIdempotentConsumer.builder()
            .bootstrapServers(bootstrapServers)
            .groupId(groupId)
            .clientId("courier-demo-" + name + "-" + generation)
            .topics(topic)
            .properties(kafkaProperties)
            .processor(processor)
            .closeTimeout(Duration.ofSeconds(10))
            .afterEffectCommitted(this::afterEffectCommitted)
            .build();
    c.start();
    return c;
  }

  private void afterEffectCommitted(Event event) {
    long micros = Duration.between(event.createdAt(), Instant.now()).toNanos() / 1000;
    stats.recordLatency(micros);
    if (crashRate > 0 && !closed && ThreadLocalRandom.current().nextDouble() < crashRate) {
      crashes.incrementAndGet();
      try (EventLog ignored = EventLog.of(event).with(EventLog.CONSUMER, name)) {
        log.warn(
            "fault injection: consumer {} crashes now, after this event's effect committed and"
                + " before its offset is committed",
            name);
      }
      throw new SimulatedCrash();
    }
  }

  private void watch() {
    while (!closed) {
      try {
        Thread.sleep(WATCH_INTERVAL);
      } catch (InterruptedException e) {
        return;
      }
      KafkaIdempotentConsumer c = current;
      if (c.state() != KafkaIdempotentConsumer.State.FAILED) {
        continue;
      }
      Throwable why = c.failure().orElse(null);
      if (!(why instanceof SimulatedCrash)) {
        unexpectedFailures.incrementAndGet();
        log.error("consumer {} died unexpectedly; restarting it: {}", name, String.valueOf(why));
      }
      c.close();
      lock.lock();
      try {
        if (closed) {
          return;
        }
        try {
          current = launch();
          log.info("consumer {} restarted as instance {} in group {}", name, generation, groupId);
        } catch (RuntimeException e) {
          unexpectedFailures.incrementAndGet();
          log.error(
              "consumer {} could not be restarted; trying again in a second: {}",
              name,
              e.toString());
          pauseAfterFailedRestart();
        }
      } finally {
        lock.unlock();
      }
    }
  }

  private static void pauseAfterFailedRestart() {
    try {
      Thread.sleep(Duration.ofSeconds(1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the supervision and the current consumer (committing what it finished). */
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
      KafkaIdempotentConsumer c = current;
      if (c != null) {
        c.close();
      }
    } finally {
      lock.unlock();
    }
  }

  /** The injected fault: the consumer process "dies" after its database commit. */
  static final class SimulatedCrash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    SimulatedCrash() {
      super(
          "simulated crash between the database commit and the offset commit (demo fault"
              + " injection)",
          null,
          false,
          false);
    }
  }
}
