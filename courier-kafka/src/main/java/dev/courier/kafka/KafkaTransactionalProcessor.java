package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.FatalCourierException;
import dev.courier.InvalidEventException;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.inbox.UnknownEventTypeException;
import dev.courier.internal.EventLog;
import dev.courier.internal.Threads;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.retry.RetryPolicy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consume-transform-produce inside one Kafka transaction: reads events from input topics as a
 * consumer group, turns each into zero or more output events with a {@link Transform}, and commits
 * the outputs together with the consumed offsets.
 *
 * <p><b>Guarantee (inside Kafka).</b> For each poll batch the processor begins a transaction, sends
 * every output, adds the batch's next offsets with {@code sendOffsetsToTransaction(offsets,
 * consumer.groupMetadata())}, and commits. Outputs and input progress therefore commit together or
 * not at all: a {@code read_committed} consumer of the output topics sees the outputs of each input
 * exactly once, whatever crashes, aborts or rebalances happen in between. Retried work produces the
 * same event ids, because an output's id is derived from the processor's group id, the input's
 * event id and the output's index ({@link #outputId}), never drawn at random.
 *
 * <p><b>Where the boundary ends.</b> Only Kafka writes made through this processor are in the
 * transaction. A {@link Transform} that writes to a database, calls an HTTP service or sends an
 * email does so outside it: after an abort, a crash, or a rebalance before the commit, the input is
 * transformed again and that effect happens again. Make such effects idempotent, for example by
 * writing them in one database transaction with a row in the processed-events ledger (run them
 * through an {@link dev.courier.inbox.IdempotentProcessor}), which turns the repeat into a dedupe
 * hit.
 *
 * <p><b>Failures.</b>
 *
 * <ul>
 *   <li>The transform throws: the transaction is aborted, the consumer is rewound to the last
 *       committed offsets, and the batch is processed again after the {@link RetryPolicy} delay.
 *       After the policy's last attempt, or at once for a {@link FatalCourierException} (for
 *       example {@link PoisonEventException}) or an invalid output, the input record is copied to
 *       the dead-letter topic inside the transaction, with the reason in {@link
 *       #DEAD_LETTER_REASON} and related headers, and the stream moves on. Malformed and oversized
 *       input records go there at once. Attempts are counted in memory: after a restart or a
 *       rebalance a record starts again at attempt 1.
 *   <li>Kafka fails a send, the offsets or the commit with an error that aborting resolves (a
 *       rebalance made the group generation stale, a record the broker refused): the transaction is
 *       aborted and the consumer rewound. An output the broker refuses for good (too large) makes
 *       its input a dead letter on the next attempt.
 *   <li>The outcome of a commit is unknown (it timed out, or an abort failed): the producer is
 *       closed and never reused; a new one initialises transactions with the same id, which makes
 *       the coordinator finish the old transaction, and the consumer is rewound to the committed
 *       offsets it then reads, which tell whether the batch committed.
 *   <li>This producer is fenced: another instance initialised the same transactional id. The
 *       processor stops in {@link State#FAILED} with a {@link KafkaProducerFencedException}; its
 *       open transaction was aborted by the broker.
 * </ul>
 *
 * <p><b>Transactional id and fencing.</b> Give each instance one stable {@code transactional.id}
 * and reuse it when the instance restarts: the restarted producer then fences its predecessor and
 * aborts the transaction it left open at once, instead of after {@code transaction.timeout.ms}
 * (while a transaction is open, {@code read_committed} readers of the partitions it wrote to, and
 * the group's next reader of its input partitions, wait). Two live instances need different ids;
 * instances of one group that consume the same partitions one after the other (after a rebalance)
 * are fenced by the group generation carried in {@code groupMetadata()}. Setting the consumer's
 * {@code group.instance.id} to the same stable id (static membership) also lets a restarted
 * instance take its place in the group at once, rather than after the killed member's {@code
 * session.timeout.ms} (45 s by default) has passed.
 *
 * <p><b>Ordering and timing.</b> Records of one partition are transformed in offset order, and the
 * outputs of one input are sent in list order, so outputs with the same key, made from inputs of
 * one partition, keep the order of those inputs. A batch is cut short when it has run for {@code
 * transaction.timeout.ms - max.block.ms} or when the processor is closing: what was done is
 * committed and the rest is fetched again. While a retry delay runs, the whole processor waits.
 *
 * <p><b>Threads and time.</b> The processor runs on one thread, {@code
 * courier-kafka-processor-<group>}, from {@link Builder#threadFactory}. The creation time of the
 * outputs, and of an input that carries none, are read from {@link Builder#clock}; retry delays
 * and the batch budget are measured with {@link System#nanoTime()}.
 *
 * <p>Thread-safe: {@link #start()}, {@link #close()} and the accessors may be called from any
 * thread; the Kafka clients are used only by the processor's own thread.
 */
public final class KafkaTransactionalProcessor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KafkaTransactionalProcessor.class);

  /** Header on a dead-letter record: the {@link DeadLetterReason} name. */
  public static final String DEAD_LETTER_REASON = "courier-dead-letter-reason";

  /** Header on a dead-letter record: the error, at most 1000 characters. */
  public static final String DEAD_LETTER_ERROR = "courier-dead-letter-error";

  /** Header on a dead-letter record: where the input was, {@code topic-partition@offset}. */
  public static final String DEAD_LETTER_SOURCE = "courier-dead-letter-source";

  /** Header on a dead-letter record: how many attempts were made. */
  public static final String DEAD_LETTER_ATTEMPTS = "courier-dead-letter-attempts";

  /** Header on a dead-letter record: the processor (its group id). */
  public static final String DEAD_LETTER_PROCESSOR = "courier-dead-letter-processor";

  /**
   * Transactions ended. Tags: processor, outcome ({@code committed}, {@code aborted}, {@code
   * unknown}).
   */
  public static final String METRIC_TRANSACTIONS = "courier.processor.transactions";

  /** Output events committed. Tags: processor. */
  public static final String METRIC_OUTPUTS = "courier.processor.outputs";

  /** Input records committed to the dead-letter topic. Tags: processor, reason. */
  public static final String METRIC_DEAD_LETTERS = "courier.processor.dead.letters";

  /** Transform failures scheduled for another attempt. Tags: processor. */
  public static final String METRIC_RETRIES = "courier.processor.retries";

  private static final UUID OUTPUT_NAMESPACE =
      UUID.fromString("6f1c3e52-8d0a-4b57-9a41-c0de7e0a11d5");
  private static final Duration COMMITTED_TIMEOUT = Duration.ofSeconds(30);
  private static final int MAX_ERROR_HEADER = 1000;

  /**
   * Turns one input event into the events to publish because of it. It runs inside a Kafka
   * transaction that is not yet committed, and may run again for the same input (after an abort, a
   * crash or a rebalance): effects outside Kafka must be idempotent.
   */
  @FunctionalInterface
  public interface Transform {
    /**
     * @param input the consumed event
     * @return the outputs, possibly empty, never {@code null}. Each needs a type and a destination
     *     (its output topic). Its id is assigned by the processor ({@link #outputId}); an id set on
     *     the builder is replaced. A missing correlation id is taken from the input, and a missing
     *     causation id is the input's event id.
     * @throws Exception to retry the input after a delay; a {@link FatalCourierException} (for
     *     example {@link PoisonEventException}) dead-letters it at once
     */
    List<Event.Builder> apply(Event input) throws Exception;
  }

  /** Lifecycle of a processor. */
  public enum State {
    NEW,
    RUNNING,
    STOPPING,
    STOPPED,
    /** The loop stopped on an error, such as being fenced; see {@link #failure()}. */
    FAILED
  }

  private final Map<String, Object> consumerConfig;
  private final Map<String, Object> producerConfig;
  private final List<String> topics;
  private final String groupId;
  private final String transactionalId;
  private final Transform transform;
  private final String deadLetterTopic;
  private final RetryPolicy retryPolicy;
  private final Predicate<Throwable> retryable;
  private final int maxRecordBytes;
  private final Duration pollTimeout;
  private final Duration closeTimeout;
  private final Duration batchBudget;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final Function<Map<String, Object>, Producer<byte[], byte[]>> producerFactory;
  private final List<Settings.Unsafe> acceptedRisks;

  private final MeterRegistry registry;
  private final Counter committedTransactions;
  private final Counter abortedTransactions;
  private final Counter unknownTransactions;
  private final Counter outputsMeter;
  private final Counter retriesMeter;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition stopping = lock.newCondition();
  private volatile State state = State.NEW;
  private volatile Throwable failure;
  private KafkaConsumer<byte[], byte[]> consumer;
  private Thread loop;

  // Touched only by the loop thread.
  private Producer<byte[], byte[]> producer;
  private boolean initialised;
  private Map<TopicPartition, Long> pendingRewind;
  private int consecutiveKafkaFailures;
  private final Map<TopicPartition, Map<Long, Attempts>> attempts = new HashMap<>();
  private final List<PendingDeadLetter> pendingDeadLetters = new ArrayList<>();

  private final AtomicLong transactionsCommitted = new AtomicLong();
  private final AtomicLong transactionsAborted = new AtomicLong();
  private final AtomicLong inputsCommitted = new AtomicLong();
  private final AtomicLong outputsCommitted = new AtomicLong();
  private final AtomicLong deadLettersCommitted = new AtomicLong();
  private final AtomicLong producersCreated = new AtomicLong();

  /**
   * What is known about an input record that failed.
   *
   * @param failed failed transform attempts
   * @param refused why Kafka refused one of its outputs for good, or {@code null}
   */
  private record Attempts(int failed, Throwable refused) {}

  /** A dead letter sent in the open transaction, logged once the transaction commits. */
  private record PendingDeadLetter(
      UUID eventId,
      String topic,
      String source,
      DeadLetterReason reason,
      int attempts,
      String error) {}

  /** The input a record sent in the open transaction came from, and whether it is a dead letter. */
  private record Source(TopicPartition input, long offset, boolean deadLetter) {}

  /** The transform failed and the input is to be tried again after {@code delay}. */
  private static final class RetryLater extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Duration delay;

    RetryLater(Duration delay, Throwable cause) {
      super(cause);
      this.delay = delay;
    }
  }

  private KafkaTransactionalProcessor(
      Builder b,
      Map<String, Object> consumerConfig,
      Map<String, Object> producerConfig,
      List<Settings.Unsafe> acceptedRisks) {
    this.consumerConfig = Map.copyOf(consumerConfig);
    this.producerConfig = Map.copyOf(producerConfig);
    this.acceptedRisks = List.copyOf(acceptedRisks);
    this.topics = List.copyOf(b.topics);
    this.groupId = String.valueOf(consumerConfig.get(ConsumerConfig.GROUP_ID_CONFIG));
    this.transactionalId = b.transactionalId;
    this.transform = b.transform;
    this.deadLetterTopic = b.deadLetterTopic;
    this.retryPolicy = b.retryPolicy;
    this.retryable = b.retryable;
    this.maxRecordBytes = b.maxRecordBytes;
    this.pollTimeout = b.pollTimeout;
    this.closeTimeout = b.closeTimeout;
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
    this.producerFactory = b.producerFactory;
    this.registry = b.registry;
    int transactionTimeout =
        Settings.integer(this.producerConfig, ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
    int maxBlock = Settings.integer(this.producerConfig, ProducerConfig.MAX_BLOCK_MS_CONFIG);
    this.batchBudget = Duration.ofMillis(Math.max(1, transactionTimeout - maxBlock));
    this.committedTransactions = transactions("committed");
    this.abortedTransactions = transactions("aborted");
    this.unknownTransactions = transactions("unknown");
    this.outputsMeter =
        Counter.builder(METRIC_OUTPUTS)
            .description("Output events committed by the transactional processor")
            .baseUnit("events")
            .tag("processor", groupId)
            .register(registry);
    this.retriesMeter =
        Counter.builder(METRIC_RETRIES)
            .description("Transform failures scheduled for another attempt")
            .baseUnit("attempts")
            .tag("processor", groupId)
            .register(registry);
  }

  private Counter transactions(String outcome) {
    return Counter.builder(METRIC_TRANSACTIONS)
        .description("Kafka transactions ended by the transactional processor")
        .baseUnit("transactions")
        .tag("processor", groupId)
        .tag("outcome", outcome)
        .register(registry);
  }

  /** Starts building a processor; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The id of output number {@code index} of input {@code inputId}: a name-based UUID (version 5,
   * SHA-1) of the processor's group id, the input's event id and the index. The same input always
   * yields the same output ids, so a retried or replayed transform reproduces them, and consumers
   * recognise any copy that escapes the transaction boundary (for example a replay) as a duplicate.
   * Renaming the group changes every output id.
   */
  public static UUID outputId(String processor, UUID inputId, int index) {
    Objects.requireNonNull(processor, "processor");
    Objects.requireNonNull(inputId, "inputId");
    if (index < 0) {
      throw new IllegalArgumentException("index must be >= 0, was " + index);
    }
    MessageDigest sha1;
    try {
      sha1 = MessageDigest.getInstance("SHA-1");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides SHA-1", e);
    }
    ByteBuffer ns = ByteBuffer.allocate(16);
    ns.putLong(OUTPUT_NAMESPACE.getMostSignificantBits())
        .putLong(OUTPUT_NAMESPACE.getLeastSignificantBits());
    sha1.update(ns.array());
    sha1.update((processor + '\n' + inputId + '\n' + index).getBytes(StandardCharsets.UTF_8));
    byte[] hash = sha1.digest();
    hash[6] = (byte) ((hash[6] & 0x0f) | 0x50); // version 5
    hash[8] = (byte) ((hash[8] & 0x3f) | 0x80); // IETF variant
    ByteBuffer b = ByteBuffer.wrap(hash, 0, 16);
    return new UUID(b.getLong(), b.getLong());
  }

  /** The consumer group; also the processor's name in output ids, metrics and dead letters. */
  public String groupId() {
    return groupId;
  }

  /** The {@code transactional.id} of the processor's producers. */
  public String transactionalId() {
    return transactionalId;
  }

  /** The subscribed input topics. */
  public List<String> topics() {
    return topics;
  }

  public State state() {
    return state;
  }

  /** Why the loop stopped, when {@link #state()} is {@link State#FAILED}. */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(failure);
  }

  /** Transactions committed. For tests and progress reports. */
  public long transactionsCommitted() {
    return transactionsCommitted.get();
  }

  /** Transactions aborted, or abandoned with an unknown outcome. */
  public long transactionsAborted() {
    return transactionsAborted.get();
  }

  /** Input records whose offsets were committed, dead letters included. */
  public long inputsCommitted() {
    return inputsCommitted.get();
  }

  /** Output events committed. */
  public long outputsCommitted() {
    return outputsCommitted.get();
  }

  /** Input records committed to the dead-letter topic. */
  public long deadLettersCommitted() {
    return deadLettersCommitted.get();
  }

  /** Producers created: 1, plus one per re-initialisation after an unknown outcome. */
  public long producersCreated() {
    return producersCreated.get();
  }

  /**
   * Creates the Kafka consumer, subscribes and starts the processing loop on a thread from the
   * {@link Builder#threadFactory thread factory}. The producer initialises transactions on that
   * thread before the first poll, fencing any older producer with the same transactional id.
   *
   * @throws IllegalStateException if called more than once, or if the thread factory returned no
   *     thread (the processor is then not started)
   * @throws ConfigurationException if Kafka refuses the consumer configuration
   */
  public void start() {
    lock.lock();
    try {
      if (state != State.NEW) {
        throw new IllegalStateException(
            "processor " + groupId + " is " + state + "; start it once");
      }
      Thread t = Threads.unstarted(threadFactory, "courier-kafka-processor-" + groupId, this::runLoop);
      try {
        consumer =
            new KafkaConsumer<>(
                consumerConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      } catch (KafkaException e) {
        throw new ConfigurationException(
            "consumer properties", "Kafka refused the consumer configuration: " + e.getMessage());
      }
      state = State.RUNNING;
      loop = t;
      t.start();
    } finally {
      lock.unlock();
    }
    Settings.warn(acceptedRisks, log, "kafka transactional processor " + groupId);
    log.info(
        "kafka transactional processor {} started: transactional.id={}, topics={}, dead letters to"
            + " {}",
        groupId,
        transactionalId,
        topics,
        deadLetterTopic);
  }

  private void runLoop() {
    Throwable crash = null;
    try {
      consumer.subscribe(topics, new Rebalance());
      while (state == State.RUNNING) {
        try {
          Producer<byte[], byte[]> p = initialisedProducer();
          if (p == null) {
            continue; // could not initialise; backed off, try again
          }
          if (pendingRewind != null) {
            rewind(pendingRewind);
            pendingRewind = null;
          }
          ConsumerRecords<byte[], byte[]> records = consumer.poll(pollTimeout);
          if (!records.isEmpty()) {
            runTransaction(p, records);
          }
        } catch (WakeupException e) {
          // close() woke the consumer; the loop condition decides
        } catch (RetriableException e) {
          log.warn(
              "kafka transactional processor {}: transient error, trying again: {}",
              groupId,
              e.toString());
          backOffAfterKafkaFailure();
        }
      }
    } catch (KafkaProducerFencedException e) {
      crash = e;
      log.error("kafka transactional processor {} stopped: {}", groupId, e.getMessage());
    } catch (RuntimeException | Error e) {
      crash = e;
      log.error(
          "kafka transactional processor {} stopped by an error it cannot recover from",
          groupId,
          e);
    } finally {
      // No transaction is open here unless an unexpected error escaped mid-batch; closing without
      // a commit leaves it to be aborted, which is what a crash would do too.
      if (producer != null) {
        try {
          producer.close(crash == null ? closeTimeout : Duration.ZERO);
        } catch (RuntimeException e) {
          log.warn(
              "kafka transactional processor {}: closing the producer failed: {}",
              groupId,
              e.toString());
        }
      }
      try {
        consumer.close(CloseOptions.timeout(closeTimeout));
      } catch (RuntimeException e) {
        log.warn(
            "kafka transactional processor {}: closing the consumer failed: {}",
            groupId,
            e.toString());
      }
      lock.lock();
      try {
        failure = crash;
        state = crash == null ? State.STOPPED : State.FAILED;
        stopping.signalAll();
      } finally {
        lock.unlock();
      }
      log.info("kafka transactional processor {} stopped", groupId);
    }
  }

  /** The producer with transactions initialised, or {@code null} after a failed attempt. */
  private Producer<byte[], byte[]> initialisedProducer() {
    if (producer == null) {
      producer = TransactionalProducers.create(producerFactory, producerConfig);
      producersCreated.incrementAndGet();
      initialised = false;
    }
    if (!initialised) {
      try {
        producer.initTransactions();
      } catch (RuntimeException e) {
        if (TransactionalProducers.isFenced(e)) {
          throw fenced(e);
        }
        if (e instanceof WakeupException) {
          throw e;
        }
        discardProducer();
        log.warn(
            "kafka transactional processor {}: could not initialise transactions for"
                + " transactional.id {}, trying again with a new producer: {}",
            groupId,
            transactionalId,
            e.toString());
        backOffAfterKafkaFailure();
        return null;
      }
      initialised = true;
      log.info(
          "kafka transactional processor {}: producer #{} initialised transactions for"
              + " transactional.id {}; any older producer with this id is fenced",
          groupId,
          producersCreated.get(),
          transactionalId);
    }
    return producer;
  }

  @SuppressWarnings("try") // the EventLog scopes are used for their MDC side effect
  private void runTransaction(Producer<byte[], byte[]> p, ConsumerRecords<byte[], byte[]> records) {
    Map<TopicPartition, Long> firstOffsets = new LinkedHashMap<>();
    for (TopicPartition tp : records.partitions()) {
      firstOffsets.put(tp, records.records(tp).getFirst().offset());
    }
    try {
      p.beginTransaction();
    } catch (RuntimeException e) {
      kafkaFailure(p, e, new TransactionalProducers.Sends<>(), firstOffsets);
      return;
    }
    long budgetEnd = System.nanoTime() + batchBudget.toNanos();
    Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
    Map<TopicPartition, Long> notProcessed = new LinkedHashMap<>();
    TransactionalProducers.Sends<Source> sent = new TransactionalProducers.Sends<>();
    pendingDeadLetters.clear();
    int inputs = 0;
    Map<DeadLetterReason, Integer> deadLetters = new LinkedHashMap<>();
    try {
      for (TopicPartition tp : records.partitions()) {
        for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
          if (state != State.RUNNING || System.nanoTime() - budgetEnd >= 0) {
            notProcessed.putIfAbsent(tp, record.offset());
            continue;
          }
          DeadLetterReason dead = process(p, tp, record, sent);
          if (dead != null) {
            deadLetters.merge(dead, 1, Integer::sum);
          }
          inputs++;
          offsets.put(tp, new OffsetAndMetadata(record.offset() + 1));
        }
      }
      if (offsets.isEmpty()) {
        p.abortTransaction();
        pendingRewind = firstOffsets;
        return;
      }
      p.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
    } catch (RetryLater r) {
      abortAndRewind(p, sent, firstOffsets, r.getCause());
      retriesMeter.increment();
      sleepUnlessStopping(r.delay);
      return;
    } catch (RuntimeException e) {
      kafkaFailure(p, e, sent, firstOffsets);
      return;
    }
    try {
      p.commitTransaction();
    } catch (RuntimeException e) {
      if (TransactionalProducers.isFenced(e)) {
        throw fenced(e);
      }
      transactionsAborted.incrementAndGet();
      unknownTransactions.increment();
      discardProducer();
      pendingRewind = firstOffsets;
      log.warn(
          "kafka transactional processor {}: the commit of a transaction of {} inputs failed or its"
              + " outcome is unknown; the producer was closed, a new one will finish the old"
              + " transaction, and processing resumes from the committed offsets: {}",
          groupId,
          inputs,
          e.toString());
      backOffAfterKafkaFailure();
      return;
    }
    consecutiveKafkaFailures = 0;
    long outputs = 0;
    for (int i = 0; i < sent.size(); i++) {
      if (!sent.attachment(i).deadLetter()) {
        outputs++;
      }
    }
    transactionsCommitted.incrementAndGet();
    committedTransactions.increment();
    inputsCommitted.addAndGet(inputs);
    outputsCommitted.addAndGet(outputs);
    outputsMeter.increment(outputs);
    for (PendingDeadLetter d : pendingDeadLetters) {
      try (EventLog ignored =
          EventLog.ofUnknown(d.eventId(), d.topic()).with(EventLog.CONSUMER, groupId)) {
        log.error(
            "input {} committed to dead-letter topic {} after {} attempt(s), reason {}: {}",
            d.source(),
            deadLetterTopic,
            d.attempts(),
            d.reason(),
            d.error());
      }
    }
    pendingDeadLetters.clear();
    deadLetters.forEach(
        (reason, n) -> {
          deadLettersCommitted.addAndGet(n);
          Counter.builder(METRIC_DEAD_LETTERS)
              .description("Input records committed to the dead-letter topic")
              .baseUnit("events")
              .tag("processor", groupId)
              .tag("reason", reason.name())
              .register(registry)
              .increment(n);
        });
    offsets.forEach(
        (tp, next) -> {
          Map<Long, Attempts> known = attempts.get(tp);
          if (known != null) {
            known.keySet().removeIf(offset -> offset < next.offset());
          }
        });
    // A batch cut short: what was not processed is fetched again.
    notProcessed.forEach(
        (tp, offset) -> {
          if (state == State.RUNNING && consumer.assignment().contains(tp)) {
            consumer.seek(tp, offset);
          }
        });
  }

  /**
   * Transforms one record and sends its outputs, or sends it to the dead-letter topic.
   *
   * @return the dead-letter reason, or {@code null} when outputs were sent
   * @throws RetryLater when the transform failed and may be retried
   */
  @SuppressWarnings("try")
  private DeadLetterReason process(
      Producer<byte[], byte[]> p,
      TopicPartition tp,
      ConsumerRecord<byte[], byte[]> record,
      TransactionalProducers.Sends<Source> sent) {
    String source = tp.topic() + "-" + tp.partition() + "@" + record.offset();
    Attempts prior = attempts.getOrDefault(tp, Map.of()).get(record.offset());
    int failed = prior == null ? 0 : prior.failed();
    Decoded decoded = EventRecords.decode(record, maxRecordBytes, clock.instant());
    Event input;
    switch (decoded) {
      case Undecodable u -> {
        try (EventLog ignored =
            EventLog.ofUnknown(u.eventId(), tp.topic()).with(EventLog.CONSUMER, groupId)) {
          return deadLetter(p, tp, record, source, u.reason(), u.error(), 1, sent);
        }
      }
      case Decodable d -> input = d.event();
    }
    try (EventLog ignored =
        EventLog.of(input).with(EventLog.CONSUMER, groupId).with(EventLog.ATTEMPT, failed + 1)) {
      if (prior != null && prior.refused() != null) {
        return deadLetter(
            p, tp, record, source, DeadLetterReason.POISON, prior.refused(), failed + 1, sent);
      }
      List<Event> outputs;
      try {
        List<Event.Builder> built = transform.apply(input);
        if (built == null) {
          throw new PoisonEventException(
              "the transform returned null instead of a list of outputs");
        }
        outputs = outputs(input, built);
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        int attempt = failed + 1;
        boolean fatal = e instanceof FatalCourierException || !retryable.test(e);
        if (!fatal && retryPolicy.canRetry(attempt) && state == State.RUNNING) {
          attempts
              .computeIfAbsent(tp, k -> new HashMap<>())
              .put(record.offset(), new Attempts(attempt, null));
          Duration delay = retryPolicy.delay(attempt);
          log.warn(
              "transform attempt {} of {} failed; transaction aborted, retrying in {} ms: {}",
              attempt,
              retryPolicy.maxAttempts(),
              delay.toMillis(),
              e.toString());
          throw new RetryLater(delay, e);
        }
        if (!fatal && state != State.RUNNING && retryPolicy.canRetry(attempt)) {
          // Closing: leave the record for the next owner rather than dead-letter it early.
          throw new RetryLater(Duration.ZERO, e);
        }
        return deadLetter(p, tp, record, source, reasonFor(e, fatal), e, attempt, sent);
      }
      for (Event output : outputs) {
        sent.send(p, EventRecords.toRecord(output), new Source(tp, record.offset(), false));
      }
      return null;
    }
  }

  /** The transform's outputs with their derived ids, checked as the transport would check them. */
  private List<Event> outputs(Event input, List<Event.Builder> builders) {
    Instant now = clock.instant();
    List<Event> out = new ArrayList<>(builders.size());
    for (int i = 0; i < builders.size(); i++) {
      Event.Builder b = Objects.requireNonNull(builders.get(i), "output builder");
      Event e = b.build(now);
      Event output =
          new Event(
              outputId(groupId, input.id(), i),
              e.type(),
              e.destination(),
              e.key(),
              e.payload(),
              e.headers(),
              e.correlationId() != null ? e.correlationId() : input.correlationId(),
              e.causationId() != null ? e.causationId() : input.id().toString(),
              e.createdAt());
      String problem =
          EventRecords.publishProblem(
              output, maxRecordBytes, "KafkaTransactionalProcessor.Builder.maxRecordBytes");
      if (problem != null) {
        throw new InvalidEventException(
            "output " + i + " of the transform: " + problem, output.id(), output.destination());
      }
      out.add(output);
    }
    return out;
  }

  private DeadLetterReason deadLetter(
      Producer<byte[], byte[]> p,
      TopicPartition tp,
      ConsumerRecord<byte[], byte[]> record,
      String source,
      DeadLetterReason reason,
      Throwable error,
      int attemptsMade,
      TransactionalProducers.Sends<Source> sent) {
    RecordHeaders headers = new RecordHeaders(record.headers().toArray());
    headers.add(DEAD_LETTER_REASON, utf8(reason.name()));
    String text = error == null ? "" : error.toString();
    headers.add(
        DEAD_LETTER_ERROR,
        utf8(text.length() > MAX_ERROR_HEADER ? text.substring(0, MAX_ERROR_HEADER) : text));
    headers.add(DEAD_LETTER_SOURCE, utf8(source));
    headers.add(DEAD_LETTER_ATTEMPTS, utf8(Integer.toString(attemptsMade)));
    headers.add(DEAD_LETTER_PROCESSOR, utf8(groupId));
    // An oversized value would be refused by the dead-letter topic too; it stays in the input
    // topic.
    byte[] value = reason == DeadLetterReason.OVERSIZED ? null : record.value();
    sent.send(
        p,
        new ProducerRecord<>(deadLetterTopic, null, null, record.key(), value, headers),
        new Source(tp, record.offset(), true));
    pendingDeadLetters.add(
        new PendingDeadLetter(eventId(record), tp.topic(), source, reason, attemptsMade, text));
    log.debug(
        "input {} sent to the dead-letter topic in the open transaction, reason {}",
        source,
        reason);
    return reason;
  }

  private static DeadLetterReason reasonFor(Throwable failure, boolean fatal) {
    if (failure instanceof UnknownEventTypeException) {
      return DeadLetterReason.UNKNOWN_TYPE;
    }
    if (failure instanceof PoisonEventException
        || failure instanceof InvalidEventException
        || fatal) {
      return DeadLetterReason.POISON;
    }
    return DeadLetterReason.HANDLER_FAILED;
  }

  private void abortAndRewind(
      Producer<byte[], byte[]> p,
      TransactionalProducers.Sends<Source> sent,
      Map<TopicPartition, Long> firstOffsets,
      Throwable why) {
    transactionsAborted.incrementAndGet();
    abortedTransactions.increment();
    pendingRewind = firstOffsets;
    try {
      p.abortTransaction();
    } catch (RuntimeException e) {
      if (TransactionalProducers.isFenced(e)) {
        throw fenced(e);
      }
      log.warn(
          "kafka transactional processor {}: aborting failed ({}); the producer is replaced, and"
              + " the new one aborts the transaction",
          groupId,
          e.toString());
      discardProducer();
      return;
    }
    recordRefusedOutput(sent);
    log.debug(
        "transaction aborted because {}", why == null ? "processing stopped" : why.toString());
  }

  /** A Kafka failure while the transaction was open: abort (or replace the producer) and rewind. */
  private void kafkaFailure(
      Producer<byte[], byte[]> p,
      RuntimeException e,
      TransactionalProducers.Sends<Source> sent,
      Map<TopicPartition, Long> firstOffsets) {
    if (TransactionalProducers.isFenced(e)) {
      throw fenced(e);
    }
    if (e instanceof WakeupException) {
      // Not from the producer: closing. Abort so that nothing half-done lingers until the timeout.
      abortAndRewind(p, sent, firstOffsets, e);
      throw e;
    }
    log.warn(
        "kafka transactional processor {}: the transaction failed and is aborted; processing"
            + " resumes from the committed offsets: {}",
        groupId,
        e.toString());
    abortAndRewind(p, sent, firstOffsets, e);
    backOffAfterKafkaFailure();
  }

  /**
   * Marks the input whose output Kafka refused for good, so that it is dead-lettered next time.
   * Only the culprit: Kafka fails the transaction's other records with the same error.
   */
  private void recordRefusedOutput(TransactionalProducers.Sends<Source> sent) {
    int culprit = sent.culprit();
    if (culprit < 0) {
      return;
    }
    Throwable t = TransactionalProducers.failureOf(sent.future(culprit));
    Source s = sent.attachment(culprit);
    if (s.deadLetter()) {
      throw new FatalCourierException(
          "the dead-letter topic "
              + deadLetterTopic
              + " refused a record ("
              + t
              + "); fix the topic (for example its max.message.bytes) and restart the processor",
          t);
    }
    Map<Long, Attempts> known = attempts.computeIfAbsent(s.input(), k -> new HashMap<>());
    Attempts prior = known.get(s.offset());
    known.put(s.offset(), new Attempts(prior == null ? 1 : prior.failed() + 1, t));
  }

  /**
   * Seeks the partitions of a failed batch back to their committed offsets; a partition without a
   * committed offset goes back to where the batch started.
   */
  private void rewind(Map<TopicPartition, Long> firstOffsets) {
    Set<TopicPartition> owned = new HashSet<>(firstOffsets.keySet());
    owned.retainAll(consumer.assignment());
    if (owned.isEmpty()) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(owned, COMMITTED_TIMEOUT);
    for (TopicPartition tp : owned) {
      OffsetAndMetadata c = committed.get(tp);
      consumer.seek(tp, c != null ? c.offset() : firstOffsets.get(tp));
    }
  }

  private KafkaProducerFencedException fenced(Throwable cause) {
    discardProducer();
    return new KafkaProducerFencedException("processor", transactionalId, cause);
  }

  private void discardProducer() {
    TransactionalProducers.closeNow(producer);
    producer = null;
    initialised = false;
  }

  private void backOffAfterKafkaFailure() {
    consecutiveKafkaFailures++;
    long millis = Math.min(5_000L, 100L << Math.min(consecutiveKafkaFailures - 1, 6));
    sleepUnlessStopping(Duration.ofMillis(millis));
  }

  /** Waits, returning early when the processor is closed. */
  private void sleepUnlessStopping(Duration d) {
    long nanos = d.toNanos();
    lock.lock();
    try {
      while (state == State.RUNNING && nanos > 0) {
        nanos = stopping.awaitNanos(nanos);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  private static UUID eventId(ConsumerRecord<byte[], byte[]> record) {
    org.apache.kafka.common.header.Header h = record.headers().lastHeader(KafkaHeaders.EVENT_ID);
    if (h == null || h.value() == null) {
      return null;
    }
    try {
      return Event.parseId(new String(h.value(), StandardCharsets.UTF_8));
    } catch (InvalidEventException e) {
      return null;
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Forgets retry state of partitions this instance no longer owns. Runs inside poll. */
  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      // No transaction is open during poll: everything done for these partitions is committed.
      partitions.forEach(attempts::remove);
      if (!partitions.isEmpty()) {
        log.info("kafka transactional processor {}: partitions revoked: {}", groupId, partitions);
      }
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      partitions.forEach(attempts::remove);
      log.warn("kafka transactional processor {}: partitions lost: {}", groupId, partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (!partitions.isEmpty()) {
        log.info("kafka transactional processor {}: partitions assigned: {}", groupId, partitions);
      }
    }
  }

  /**
   * Stops gracefully: the batch in hand is cut short, what was processed of it is committed, the
   * Kafka clients are closed (the consumer leaves its group), and the call waits for the loop up to
   * the close timeout. Idempotent.
   */
  @Override
  public void close() {
    Thread t;
    lock.lock();
    try {
      switch (state) {
        case NEW -> {
          state = State.STOPPED;
          return;
        }
        case RUNNING -> {
          state = State.STOPPING;
          stopping.signalAll();
          consumer.wakeup();
        }
        default -> {}
      }
      t = loop;
    } finally {
      lock.unlock();
    }
    if (t == null || t == Thread.currentThread()) {
      return;
    }
    try {
      t.join(closeTimeout.plusSeconds(5));
      if (t.isAlive()) {
        log.warn(
            "kafka transactional processor {} did not stop within {}; interrupting it",
            groupId,
            closeTimeout);
        t.interrupt();
        t.join(Duration.ofSeconds(5));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Builds a {@link KafkaTransactionalProcessor}. Consumer defaults: {@code
   * enable.auto.commit=false}, {@code isolation.level=read_committed}, {@code
   * auto.offset.reset=earliest}, {@code max.poll.records=100}. Producer defaults: those of {@link
   * KafkaTransactionalTransport}. Retries: 5 attempts, 100 ms doubling to 2 s, with jitter. Every
   * setting is checked at {@link #build()}.
   */
  public static final class Builder {
    private final Map<String, Object> consumerProperties = new LinkedHashMap<>();
    private final Map<String, Object> producerProperties = new LinkedHashMap<>();
    private final Set<String> allowedUnsafe = new LinkedHashSet<>();
    private final List<String> topics = new ArrayList<>();
    private String bootstrapServers;
    private String groupId;
    private String transactionalId;
    private Transform transform;
    private String deadLetterTopic;
    private RetryPolicy retryPolicy =
        RetryPolicy.builder()
            .maxAttempts(5)
            .initialDelay(Duration.ofMillis(100))
            .maxDelay(Duration.ofSeconds(2))
            .build();
    private Predicate<Throwable> retryable = t -> true;
    private int maxRecordBytes = KafkaIdempotentConsumer.DEFAULT_MAX_RECORD_BYTES;
    private Duration pollTimeout = Duration.ofMillis(200);
    private Duration closeTimeout = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;
    private MeterRegistry registry = new SimpleMeterRegistry();
    private Function<Map<String, Object>, Producer<byte[], byte[]>> producerFactory =
        TransactionalProducers.KAFKA;

    private Builder() {}

    /** The brokers to bootstrap from, for both clients. Required. */
    public Builder bootstrapServers(String bootstrapServers) {
      this.bootstrapServers = bootstrapServers;
      return this;
    }

    /**
     * The consumer group. Required. It is also the processor's name: it goes into every output
     * event id, so renaming it changes the ids of outputs produced from then on.
     */
    public Builder groupId(String groupId) {
      this.groupId = groupId;
      return this;
    }

    /**
     * The producer's {@code transactional.id}. Required: one stable id per instance (for example
     * the group id and a deployment ordinal, {@code enricher-0}), reused on restart, never shared
     * by two live instances.
     */
    public Builder transactionalId(String transactionalId) {
      this.transactionalId = transactionalId;
      return this;
    }

    /** Adds input topics. At least one is required. */
    public Builder topics(String... topics) {
      return topics(List.of(topics));
    }

    /** Adds input topics. At least one is required. */
    public Builder topics(Collection<String> topics) {
      this.topics.addAll(topics);
      return this;
    }

    /** What turns each input event into output events. Required. */
    public Builder transform(Transform transform) {
      this.transform = Objects.requireNonNull(transform, "transform");
      return this;
    }

    /**
     * The topic that receives input records that cannot be processed, inside the same transaction
     * as the offsets that pass them. Required: without it a poison record would stall its partition
     * forever. It must exist (or the broker must create topics automatically).
     */
    public Builder deadLetterTopic(String deadLetterTopic) {
      this.deadLetterTopic = deadLetterTopic;
      return this;
    }

    /**
     * Retries of a failing transform. Its {@code maxDelay} must stay below half of the consumer's
     * {@code max.poll.interval.ms}, since the processor does not poll while it waits.
     */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /**
     * Classifies transform failures: false means retrying cannot help and the input is
     * dead-lettered at once. {@link FatalCourierException}s are never retried.
     */
    public Builder retryable(Predicate<Throwable> retryable) {
      this.retryable = Objects.requireNonNull(retryable, "retryable");
      return this;
    }

    /**
     * The largest input record accepted, and the largest output record sent, counting key, value,
     * header names and values (default 1 MiB). A larger input is dead-lettered as {@code OVERSIZED}
     * without its value; a larger output dead-letters its input.
     */
    public Builder maxRecordBytes(int maxRecordBytes) {
      this.maxRecordBytes = maxRecordBytes;
      return this;
    }

    /** The longest a poll waits for records (default 200 ms). */
    public Builder pollTimeout(Duration pollTimeout) {
      this.pollTimeout = pollTimeout;
      return this;
    }

    /** How long {@link KafkaTransactionalProcessor#close()} waits (default 30 s). */
    public Builder closeTimeout(Duration closeTimeout) {
      this.closeTimeout = closeTimeout;
      return this;
    }

    /**
     * The clock the processor reads the time from (default {@link Clock#systemUTC()}): the creation
     * time of every output event, and of an input record that carries neither a {@link
     * KafkaHeaders#CREATED_AT} header nor a timestamp. Retry delays and the batch budget are
     * measured with {@link System#nanoTime()}, not with it. Read by the processor's thread only; a
     * clock shared with other components must be safe for concurrent use.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where the processor's thread comes from (default: a daemon platform thread). {@link
     * KafkaTransactionalProcessor#start()} takes one thread from it, names it {@code
     * courier-kafka-processor-<group>} as it appears in the log, and starts it; {@link
     * KafkaTransactionalProcessor#close()} waits for it to end. The factory must return a new,
     * unstarted thread, and is called from the thread that calls {@code start()}, so one shared
     * with other components must be safe for concurrent use. Whether the thread is a daemon is the
     * factory's choice; a processor whose thread is not keeps the JVM alive until it is closed.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /** Sets a property on both clients (for example {@code security.protocol}). */
    public Builder property(String name, Object value) {
      consumerProperty(name, value);
      return producerProperty(name, value);
    }

    /** Sets one consumer property; it overrides the default. */
    public Builder consumerProperty(String name, Object value) {
      Settings.put(consumerProperties, name, value);
      return this;
    }

    /** Sets one producer property; it overrides the default. */
    public Builder producerProperty(String name, Object value) {
      Settings.put(producerProperties, name, value);
      return this;
    }

    /**
     * Accepts the risk of {@code auto.offset.reset} other than {@code earliest}: a new group would
     * skip the records already in its input topics.
     */
    public Builder allowUnsafe(String setting) {
      allowedUnsafe.add(Objects.requireNonNull(setting, "setting"));
      return this;
    }

    /** Replaces how producers are created; for tests that inject failures into the real flow. */
    Builder producerFactory(Function<Map<String, Object>, Producer<byte[], byte[]>> factory) {
      this.producerFactory = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /**
     * Checks the settings. The Kafka clients are created by {@link
     * KafkaTransactionalProcessor#start()}.
     *
     * @throws ConfigurationException for a missing, invalid or unsafe setting, naming it and the
     *     rule it breaks
     */
    public KafkaTransactionalProcessor build() {
      if (bootstrapServers == null || bootstrapServers.isBlank()) {
        throw new ConfigurationException(
            "bootstrapServers", "is required: the Kafka brokers to connect to");
      }
      if (groupId == null || groupId.isBlank()) {
        throw new ConfigurationException(
            "groupId", "is required: the consumer group whose offsets the transactions commit");
      }
      if (transform == null) {
        throw new ConfigurationException(
            "transform", "is required: what turns an input event into outputs");
      }
      if (topics.isEmpty()) {
        throw new ConfigurationException("topics", "at least one input topic is required");
      }
      for (String t : topics) {
        String problem = EventRecords.topicProblem(t);
        if (problem != null) {
          throw new ConfigurationException("topics", problem);
        }
      }
      if (deadLetterTopic == null) {
        throw new ConfigurationException(
            "deadLetterTopic",
            "is required: records that cannot be processed are committed there, so that they"
                + " cannot stall their partition");
      }
      String dltProblem = EventRecords.topicProblem(deadLetterTopic);
      if (dltProblem != null) {
        throw new ConfigurationException("deadLetterTopic", dltProblem);
      }
      if (topics.contains(deadLetterTopic)) {
        throw new ConfigurationException(
            "deadLetterTopic",
            "must not be one of the input topics: a dead letter would be consumed again");
      }
      if (maxRecordBytes < 1) {
        throw new ConfigurationException(
            "maxRecordBytes", "must be at least 1 byte, was " + maxRecordBytes);
      }
      requirePositive("pollTimeout", pollTimeout);
      requirePositive("closeTimeout", closeTimeout);

      Map<String, Object> consumer = new LinkedHashMap<>(consumerProperties);
      for (String fixed :
          List.of(
              ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
              ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
              ConsumerConfig.GROUP_ID_CONFIG,
              ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG)) {
        if (consumer.containsKey(fixed)) {
          throw new ConfigurationException(
              fixed, "cannot be set as a property: the builder sets it");
        }
      }
      if ("true".equals(Settings.text(consumer, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG))) {
        throw new ConfigurationException(
            ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
            "enable.auto.commit=true would commit input offsets outside the transaction that"
                + " publishes their outputs, so a crash could lose inputs; there is no override");
      }
      if ("read_uncommitted"
          .equals(Settings.text(consumer, ConsumerConfig.ISOLATION_LEVEL_CONFIG))) {
        throw new ConfigurationException(
            ConsumerConfig.ISOLATION_LEVEL_CONFIG,
            "isolation.level=read_uncommitted would transform records of aborted upstream"
                + " transactions and commit their outputs as if they had happened; there is no"
                + " override");
      }
      List<Settings.Unsafe> found = new ArrayList<>();
      String reset = Settings.text(consumer, ConsumerConfig.AUTO_OFFSET_RESET_CONFIG);
      if (reset != null && !reset.equals("earliest") && !reset.equals("none")) {
        found.add(
            new Settings.Unsafe(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                "auto.offset.reset="
                    + reset
                    + ": a new consumer group, or one whose committed offsets expired, starts after"
                    + " the oldest records and never transforms the events published before"
                    + " them."));
      }
      List<Settings.Unsafe> accepted =
          Settings.enforce(
              found,
              allowedUnsafe,
              Set.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG),
              "KafkaTransactionalProcessor.Builder",
              "the kafka transactional processor");
      consumer.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
      consumer.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
      consumer.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      consumer.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
      consumer.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      consumer.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
      Integer maxPollInterval =
          Settings.integer(consumer, ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG);
      long pollInterval = maxPollInterval == null ? 300_000L : maxPollInterval;
      if (retryPolicy.maxDelay().toMillis() * 2 >= pollInterval) {
        throw new ConfigurationException(
            "retryPolicy",
            "maxDelay must be below half of max.poll.interval.ms ("
                + pollInterval
                + " ms), was "
                + retryPolicy.maxDelay().toMillis()
                + " ms: the processor does not poll while it waits, and the group would evict it");
      }

      Map<String, Object> producer = new LinkedHashMap<>(producerProperties);
      if (producer.containsKey(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG)) {
        throw new ConfigurationException(
            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
            "cannot be set as a property: the builder sets it");
      }
      producer.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
      Map<String, Object> producerConfig =
          TransactionalProducers.producerConfig(
              producer, transactionalId, "KafkaTransactionalProcessor.Builder");
      return new KafkaTransactionalProcessor(this, consumer, producerConfig, accepted);
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new ConfigurationException(name, "must be a positive duration, was " + d);
      }
    }
  }
}
