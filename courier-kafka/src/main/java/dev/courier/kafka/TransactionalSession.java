package dev.courier.kafka;

import dev.courier.RetriableCourierException;
import dev.courier.internal.Threads;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The producer behind a {@link KafkaTransactionalTransport} from one transaction to the next: made
 * and initialised when needed (initialising fences every older producer with the transactional id),
 * discarded after an outcome Kafka leaves unknown (initialising its successor makes the coordinator
 * finish the old transaction), and fenced for good once a newer producer took the id.
 *
 * <p>One lock serialises the transactions; the caller holds it around every method but {@link
 * #fenced()} and {@link #producersCreated()}.
 */
final class TransactionalSession {
  private static final Logger log = LoggerFactory.getLogger(KafkaTransactionalTransport.class);

  private final Map<String, Object> config;
  private final String transactionalId;
  private final Function<Map<String, Object>, Producer<byte[], byte[]>> factory;
  private final Consumer<KafkaProducerFencedException> onFenced;
  private final ThreadFactory callbackThreads;
  private final ReentrantLock lock = new ReentrantLock();
  // Guarded by lock.
  private Producer<byte[], byte[]> producer;
  private boolean initialised;
  private int producersCreated;
  private volatile KafkaProducerFencedException fenced;

  /**
   * Creates the first producer now, so that a configuration Kafka refuses fails the build; it
   * connects lazily.
   *
   * @param onFenced told once, on a thread of its own, when a newer producer fenced this one
   * @param callbackThreads makes that thread
   */
  TransactionalSession(
      Map<String, Object> config,
      String transactionalId,
      Function<Map<String, Object>, Producer<byte[], byte[]>> factory,
      Consumer<KafkaProducerFencedException> onFenced,
      ThreadFactory callbackThreads) {
    this.config = config;
    this.transactionalId = transactionalId;
    this.factory = factory;
    this.onFenced = onFenced;
    this.callbackThreads = callbackThreads;
    this.producer = TransactionalProducers.create(factory, config);
    this.producersCreated = 1;
  }

  void lock() {
    lock.lock();
  }

  /** Takes the lock if it is free within {@code nanos}. */
  boolean tryLock(long nanos) throws InterruptedException {
    return lock.tryLock(nanos, TimeUnit.NANOSECONDS);
  }

  void unlock() {
    lock.unlock();
  }

  /** Why this session may publish nothing more, or {@code null} while it is not fenced. */
  KafkaProducerFencedException fenced() {
    return fenced;
  }

  /** How many producers this session created: 1, plus one per re-initialisation. */
  int producersCreated() {
    lock.lock();
    try {
      return producersCreated;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The producer to use, its transactions initialised; creates one if the last was discarded.
   * Initialising fences every older producer with the transactional id. Hold the lock.
   *
   * @throws KafkaProducerFencedException if a newer producer took the id
   * @throws RetriableCourierException if initialising failed; the next call tries a new producer
   */
  Producer<byte[], byte[]> producer() {
    if (producer == null) {
      producer = TransactionalProducers.create(factory, config);
      producersCreated++;
      initialised = false;
    }
    if (!initialised) {
      Producer<byte[], byte[]> p = producer;
      try {
        p.initTransactions();
      } catch (RuntimeException e) {
        if (TransactionalProducers.isFenced(e)) {
          throw fence(p, e);
        }
        discard(p);
        throw new RetriableCourierException(
            "could not initialise Kafka transactions for transactional.id "
                + transactionalId
                + ": "
                + e
                + "; the next publish tries again with a new producer",
            e);
      }
      initialised = true;
      log.info(
          "kafka producer #{} initialised transactions for transactional.id {}; any older"
              + " producer with this id is fenced and its open transaction aborted",
          producersCreated,
          transactionalId);
    }
    return producer;
  }

  /** Marks the session fenced, closes the producer and tells the owner, once. Hold the lock. */
  KafkaProducerFencedException fence(Producer<byte[], byte[]> p, Throwable cause) {
    KafkaProducerFencedException f = fenced;
    if (f == null) {
      f = new KafkaProducerFencedException("relay", transactionalId, cause);
      fenced = f;
      discard(p);
      log.error(
          "kafka producer with transactional.id {} was fenced by a newer producer with the same id;"
              + " this relay is a zombie and publishes nothing more: {}",
          transactionalId,
          cause.toString());
      KafkaProducerFencedException reported = f;
      // On its own thread: the callback may close the relay, whose loop is the caller here.
      try {
        Threads.start(
            callbackThreads,
            "courier-kafka-fenced-" + transactionalId,
            () -> {
              try {
                onFenced.accept(reported);
              } catch (RuntimeException e) {
                log.warn("the onFenced callback failed: {}", e.toString());
              }
            });
      } catch (RuntimeException e) {
        log.error(
            "could not start a thread for the onFenced callback, which is therefore not called: {}",
            e.toString());
      }
    }
    return f;
  }

  /**
   * Closes {@code p} at once and, if it is the current producer, forgets it: the next call of
   * {@link #producer()} creates and initialises a new one. Hold the lock.
   */
  void discard(Producer<byte[], byte[]> p) {
    if (producer == p) {
      producer = null;
      initialised = false;
    }
    TransactionalProducers.closeNow(p);
  }

  /** Closes the current producer, waiting up to {@code timeout} for it. Hold the lock. */
  void close(Duration timeout) {
    Producer<byte[], byte[]> p = producer;
    producer = null;
    if (p != null) {
      try {
        p.close(timeout);
      } catch (RuntimeException e) {
        log.warn("closing the kafka transactional producer failed: {}", e.toString());
      }
    }
  }
}
