package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.DeliveryPipeline.Redelivery;
import dev.courier.inbox.DeliveryPipeline.Settlement;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.SubscriptionLifecycle;
import dev.courier.internal.EventLog;
import dev.courier.internal.Threads;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.SubscriptionSpec.AfterCommitHook;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes Courier events from Kafka and runs each through an {@link IdempotentProcessor},
 * committing a record's offset only after its outcome is durable in the database.
 *
 * <p><b>Delivery.</b> At least once, with at most one effect per {@code (consumer, event id)}: each
 * record goes through a {@link DeliveryPipeline}, whose processor records the event in its ledger
 * in the handler's transaction, and the offset after a record is committed only once the pipeline
 * settled it: its outcome ({@link HandleOutcome.Applied}, {@link HandleOutcome.Duplicate}, {@link
 * HandleOutcome.DeadLettered}) committed in the database, or it was {@link
 * HandleOutcome.NotAddressed not addressed} to this consumer. A crash between the database commit
 * and the offset commit makes Kafka deliver the record again, and the ledger turns it into a
 * duplicate. Offsets are committed after each polled batch without waiting for the answer (one that
 * fails goes again with the next), and with a wait when partitions are revoked and on {@link
 * #close()}.
 *
 * <p><b>Batches.</b> The records of one partition that one poll returns are handed to the pipeline
 * in runs of up to the processor's {@link IdempotentProcessor#batchSize() batch size} ({@link
 * IdempotentProcessor.Builder#applyInBatches}; 1, one record at a time, by default), so that a run's
 * effects and ledger rows commit in one database transaction; then each record is settled in
 * offset order. A run stops at the first record that is not settled: nothing after it is marked
 * done, and its partition goes on from it as below.
 *
 * <p><b>Ordering and retries.</b> Records of one partition are processed in offset order. When the
 * processor asks for a retry, the partition is paused and rewound to the record,
 * and resumed once the delay has passed; other partitions keep flowing, and {@code poll} keeps
 * being called so the consumer stays in its group. A record therefore holds back its own partition
 * (all keys that hash to it), never other partitions. Attempts are counted in memory per partition
 * and offset; after a restart or a rebalance a record starts again at attempt 1. A resumed
 * partition is fetched again once the consumer's fetch in flight returns, so a retry can come up to
 * {@code fetch.max.wait.ms} (Kafka's default 500 ms) later than its delay.
 *
 * <p><b>Bad records.</b> A record without a valid {@link KafkaHeaders#EVENT_ID}, without {@link
 * KafkaHeaders#EVENT_TYPE}, with a header that is not UTF-8 or cannot be parsed, or larger than
 * {@link Builder#maxRecordBytes(int)} is dead-lettered through {@link
 * IdempotentProcessor#rejectMalformed} with reason {@code MALFORMED} or {@code OVERSIZED} and its
 * position as source ({@code topic-partition@offset}); the consumer moves on.
 *
 * <p><b>Database outages.</b> If the processor throws (it could not record even a failure, for
 * example because the database is unreachable), the record stays unacknowledged and its partition
 * is paused and rewound to it for the pipeline's {@link DeliveryPipeline#OUTAGE_BACKOFF outage
 * backoff} (200 ms doubling to 30 s, over the consecutive failures of the records of one topic),
 * without using up one of its attempts: an outage never dead-letters an event.
 *
 * <p><b>After-commit hook.</b> {@link Builder#afterCommit} runs on the loop thread for every final
 * outcome of a well-formed event (applied, duplicate, not addressed, dead-lettered), after its
 * commit and before its offset is recorded for committing; not for an undecodable record. A hook
 * that throws crashes the consumer as {@link #crash()} does, with the hook's exception as {@link
 * #failure()}.
 *
 * <p><b>Lifecycle.</b> A {@link Subscription.State}: {@code NEW} until {@link #start()}, which runs
 * the poll loop on its own thread ({@code RUNNING}). {@link #close()} stops it gracefully ({@code
 * STOPPING}, then {@code STOPPED}): the record in hand is finished, finished records' offsets are
 * committed, and the Kafka consumer leaves its group. {@link #crash()}, or an after-commit hook
 * that throws, stops it as a killed process ({@code CRASHED}): no offset is committed any more. If
 * the loop stops on an error it cannot handle (the group is not authorized, the offset reset policy
 * is {@code none} and there is no offset), the state becomes {@code FAILED}. {@link #failure()}
 * says why it crashed or failed.
 *
 * <p><b>Threads and time.</b> The loop runs on one thread, {@code courier-kafka-consumer-<name>},
 * from {@link Builder#threadFactory}. When a retry is due, and the creation time of a record that
 * carries none, are read from {@link Builder#clock}.
 *
 * <p>Thread-safe: {@link #start()}, {@link #close()} and the accessors may be called from any
 * thread; the Kafka consumer itself is only touched by the loop thread.
 */
public final class KafkaIdempotentConsumer implements Subscription {
  private static final Logger log = LoggerFactory.getLogger(KafkaIdempotentConsumer.class);

  /** The default of {@link Builder#maxRecordBytes(int)}: 1 MiB. */
  public static final int DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

  private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(15);
  private static final Set<String> UNSAFE_SETTINGS =
      Set.of(
          ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
          ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
          ConsumerConfig.ISOLATION_LEVEL_CONFIG);

  private final Map<String, Object> config;
  private final List<String> topics;
  private final String groupId;
  private final IdempotentProcessor processor;
  private final int maxRecordBytes;
  private final Duration pollTimeout;
  private final Duration closeTimeout;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final List<Settings.Unsafe> acceptedRisks;

  /** One per subscribed topic, so that an undecodable record is logged with its own topic. */
  private final Map<String, DeliveryPipeline> pipelines = new HashMap<>();

  private final ReentrantLock lock = new ReentrantLock();
  private final SubscriptionLifecycle lifecycle = new SubscriptionLifecycle();
  private KafkaConsumer<byte[], byte[]> consumer;
  private Thread loop;

  // Touched only by the loop thread.
  private final Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
  /** The offsets of the asynchronous commit awaiting its answer, if any; only the loop's thread. */
  private Map<TopicPartition, OffsetAndMetadata> committing = Map.of();
  private final Map<TopicPartition, Retry> retries = new HashMap<>();

  private final AtomicLong seen = new AtomicLong();
  private final AtomicLong acknowledged = new AtomicLong();
  private final AtomicLong retriesScheduled = new AtomicLong();
  private final AtomicLong unrecordedFailures = new AtomicLong();

  /**
   * A record waiting for another delivery.
   *
   * @param offset the record's offset; the partition is rewound to it
   * @param failedAttempts attempts the processor counted as failed
   * @param resumeAt when the partition may resume
   * @param resumed whether it has been resumed already
   */
  private record Retry(long offset, int failedAttempts, Instant resumeAt, boolean resumed) {}

  private KafkaIdempotentConsumer(
      Builder b, Map<String, Object> config, List<Settings.Unsafe> acceptedRisks) {
    this.config = Map.copyOf(config);
    this.acceptedRisks = List.copyOf(acceptedRisks);
    this.topics = List.copyOf(b.topics);
    this.groupId = String.valueOf(config.get(ConsumerConfig.GROUP_ID_CONFIG));
    this.processor = b.processor;
    this.maxRecordBytes = b.maxRecordBytes;
    this.pollTimeout = b.pollTimeout;
    this.closeTimeout = b.closeTimeout;
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
    for (String topic : topics) {
      SubscriptionSpec spec =
          new SubscriptionSpec(topic, maxRecordBytes, pollTimeout, b.afterCommit, Map.of());
      pipelines.putIfAbsent(topic, new DeliveryPipeline(processor, spec, lifecycle, this::crash));
    }
  }

  /** Starts building a consumer; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts the consumer behind a transport's {@code subscribe}: on {@code spec.destination()}, with
   * the processor's consumer name as its group id, the transport's bootstrap servers and its {@code
   * security.*}, {@code sasl.*} and {@code ssl.*} settings, then {@code properties}, then {@code
   * spec.options()}, all checked as {@link Builder#build()} checks them.
   *
   * @param producerConfig the transport's producer configuration
   * @param clock the transport's clock for its subscriptions
   * @param threadFactory the transport's factory for its subscriptions' threads
   */
  static KafkaIdempotentConsumer startFor(
      Map<String, Object> producerConfig,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      Map<String, Object> properties,
      Clock clock,
      ThreadFactory threadFactory) {
    Builder b =
        builder()
            .clock(clock)
            .threadFactory(threadFactory)
            .bootstrapServers(
                String.valueOf(producerConfig.get(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG)))
            .groupId(processor.consumer())
            .topics(spec.destination())
            .processor(processor)
            .maxRecordBytes(spec.maxRecordBytes())
            .pollTimeout(spec.pollTimeout())
            .afterCommit(spec.afterCommit());
    properties.forEach(b::property);
    producerConfig.forEach(
        (k, v) -> {
          if (k.startsWith("security.") || k.startsWith("sasl.") || k.startsWith("ssl.")) {
            b.property(k, v);
          }
        });
    spec.options().forEach(b::property);
    KafkaIdempotentConsumer consumer = b.build();
    consumer.start();
    return consumer;
  }

  /** The consumer's name: that of its processor, which keys its ledger rows and dead letters. */
  public String name() {
    return processor.consumer();
  }

  /** The Kafka consumer group. */
  public String groupId() {
    return groupId;
  }

  /** The subscribed topics. */
  public List<String> topics() {
    return topics;
  }

  @Override
  public State state() {
    return lifecycle.state();
  }

  /**
   * What stopped the consumer: the loop's error when {@link #state()} is {@link State#FAILED}, the
   * hook's exception or {@link #crash()}'s {@link SubscriptionSpec.SimulatedCrash} when it is
   * {@link State#CRASHED}; empty otherwise.
   */
  @Override
  public Optional<Throwable> failure() {
    return lifecycle.failure();
  }

  /** Records taken from Kafka and handed to processing, redeliveries and retries included. */
  public long recordsSeen() {
    return seen.get();
  }

  /**
   * Records settled for good: their outcome durable (applied, duplicate or dead-lettered) or not
   * addressed to this consumer.
   */
  public long recordsAcknowledged() {
    return acknowledged.get();
  }

  /** Retries scheduled because the processor asked for one. */
  public long retriesScheduled() {
    return retriesScheduled.get();
  }

  /**
   * Deliveries in which the processor threw because it could not record an outcome, each put back
   * for the outage backoff.
   */
  public long unrecordedFailures() {
    return unrecordedFailures.get();
  }

  /**
   * Creates the Kafka consumer, subscribes and starts the poll loop on a thread from the {@link
   * Builder#threadFactory thread factory}.
   *
   * @throws IllegalStateException if called more than once, or if the thread factory returned no
   *     thread (the consumer is then not started)
   * @throws ConfigurationException if Kafka refuses the consumer configuration
   */
  public void start() {
    lock.lock();
    try {
      if (lifecycle.state() != State.NEW) {
        throw new IllegalStateException(
            "consumer " + name() + " is " + lifecycle.state() + "; start it once");
      }
      Thread t = Threads.unstarted(threadFactory, "courier-kafka-consumer-" + name(), this::runLoop);
      try {
        consumer =
            new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      } catch (KafkaException e) {
        throw new ConfigurationException(
            "consumer properties", "Kafka refused the consumer configuration: " + e.getMessage());
      }
      lifecycle.started();
      loop = t;
      t.start();
    } finally {
      lock.unlock();
    }
    Settings.warn(acceptedRisks, log, "kafka consumer " + name());
    log.info("kafka consumer {} started: group={}, topics={}", name(), groupId, topics);
  }

  private void runLoop() {
    Throwable error = null;
    try {
      consumer.subscribe(topics, new Rebalance());
      while (lifecycle.isRunning()) {
        try {
          pollAndProcess();
        } catch (WakeupException e) {
          // close() or crash() woke the consumer; the loop condition decides what happens next
        } catch (RetriableException e) {
          log.warn("kafka consumer {}: transient error, polling again: {}", name(), e.toString());
          lifecycle.await(pollTimeout);
        }
      }
    } catch (RuntimeException | Error e) {
      error = e;
      log.error("kafka consumer {} stopped by an error it cannot recover from", name(), e);
    } finally {
      if (lifecycle.state() == State.CRASHED) {
        // A process that died here would commit nothing more, not even while leaving the group.
        done.clear();
        log.warn(
            "kafka consumer {} crashed: it commits no further offsets; the records whose offsets"
                + " were not committed are delivered again and deduplicated: {}",
            name(),
            lifecycle.failure().map(Throwable::toString).orElse("?"));
      } else {
        commitOnShutdown();
      }
      try {
        consumer.close(CloseOptions.timeout(closeTimeout));
      } catch (RuntimeException e) {
        log.warn("kafka consumer {}: closing the Kafka consumer failed: {}", name(), e.toString());
      }
      if (error != null) {
        lifecycle.fail(error);
      } else {
        lifecycle.stopped();
      }
      log.info("kafka consumer {} stopped: {}", name(), lifecycle.state());
    }
  }

  private void pollAndProcess() {
    Instant now = clock.instant();
    resumeDue(now);
    ConsumerRecords<byte[], byte[]> records = consumer.poll(nextPollTimeout(now));
    int chunk = Math.max(1, processor.batchSize());
    partitions:
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<byte[], byte[]>> run = records.records(tp);
      for (int from = 0; from < run.size(); from += chunk) {
        if (!lifecycle.isRunning()) {
          break partitions; // closing: finish nothing new; what is done is committed on the way out
        }
        if (!handle(tp, run.subList(from, Math.min(run.size(), from + chunk)))) {
          break; // the partition now waits for another delivery of one of these records
        }
      }
    }
    commitDoneAsync();
  }

  /**
   * Delivers consecutive records of one partition through its topic's pipeline (together, when
   * the processor applies batches); returns false when the partition must wait for another
   * delivery of one of them (or the consumer stopped meanwhile).
   */
  private boolean handle(TopicPartition tp, List<ConsumerRecord<byte[], byte[]>> run) {
    Retry prior = retries.get(tp);
    if (prior != null && prior.offset() != run.get(0).offset()) {
      prior = null; // the partition moved on (for example, its log was truncated): stale state
      retries.remove(tp);
    }
    Gate gate = new Gate();
    List<DeliveryPipeline.Delivery> deliveries = new ArrayList<>(run.size());
    for (ConsumerRecord<byte[], byte[]> record : run) {
      seen.incrementAndGet();
      String source = tp.topic() + "-" + tp.partition() + "@" + record.offset();
      int attempt = prior != null && prior.offset() == record.offset() ? prior.failedAttempts() + 1 : 1;
      Decoded decoded = EventRecords.decode(record, maxRecordBytes, clock.instant());
      deliveries.add(
          new DeliveryPipeline.Delivery(
              decoded, attempt, source, new RecordAcknowledger(tp, record, decoded, source, gate)));
    }
    List<Settlement> settlements = pipelines.get(tp.topic()).deliverAll(deliveries);
    for (Settlement settlement : settlements) {
      if (settlement != Settlement.ACKNOWLEDGED && settlement != Settlement.TERMINATED) {
        return false;
      }
    }
    return true;
  }

  /**
   * Closes when a record of a run is handed back for another delivery: the partition is rewound to
   * it, and an offset is cumulative, so nothing after it in the run may be marked done (those
   * records are fetched again after it).
   */
  private static final class Gate {
    private boolean open = true;
  }

  /**
   * Settles one record: done records' offsets are committed after the poll; a record to be
   * delivered again pauses its partition, which is rewound to it.
   */
  private final class RecordAcknowledger implements DeliveryPipeline.Acknowledger {
    private final TopicPartition tp;
    private final ConsumerRecord<byte[], byte[]> record;
    private final Decoded decoded;
    private final String source;
    private final Gate gate;

    RecordAcknowledger(
        TopicPartition tp,
        ConsumerRecord<byte[], byte[]> record,
        Decoded decoded,
        String source,
        Gate gate) {
      this.tp = tp;
      this.record = record;
      this.decoded = decoded;
      this.source = source;
      this.gate = gate;
    }

    @Override
    public void acknowledge() {
      if (gate.open) {
        markDone(tp, record);
      }
    }

    @Override
    @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
    public void redeliver(Redelivery redelivery) {
      if (!gate.open) {
        return; // an earlier record of the run is to be delivered again; this one follows it
      }
      gate.open = false;
      waitForRetry(tp, record, redelivery.failedAttempts(), redelivery.delay());
      if (redelivery.outage()) {
        unrecordedFailures.incrementAndGet(); // the pipeline logged it
        return;
      }
      retriesScheduled.incrementAndGet();
      if (log.isDebugEnabled() && decoded instanceof Decodable d) {
        try (EventLog ignored =
            EventLog.of(d.event())
                .with(EventLog.ATTEMPT, redelivery.failedAttempts())
                .with(EventLog.CONSUMER, name())
                .with("source", source)) {
          log.debug("partition paused until the retry in {} ms", redelivery.delay().toMillis());
        }
      }
    }
  }

  private void markDone(TopicPartition tp, ConsumerRecord<byte[], byte[]> record) {
    done.put(tp, new OffsetAndMetadata(record.offset() + 1, record.leaderEpoch(), ""));
    retries.remove(tp);
    acknowledged.incrementAndGet();
  }

  private void waitForRetry(
      TopicPartition tp,
      ConsumerRecord<byte[], byte[]> record,
      int failedAttempts,
      Duration delay) {
    consumer.pause(List.of(tp));
    // Rewinding drops whatever was fetched after the record, so the next delivery starts with it.
    consumer.seek(tp, record.offset());
    retries.put(tp, new Retry(record.offset(), failedAttempts, clock.instant().plus(delay), false));
  }

  private void resumeDue(Instant now) {
    List<TopicPartition> due = new ArrayList<>();
    for (Map.Entry<TopicPartition, Retry> e : retries.entrySet()) {
      Retry r = e.getValue();
      if (!r.resumed() && !now.isBefore(r.resumeAt())) {
        due.add(e.getKey());
        e.setValue(new Retry(r.offset(), r.failedAttempts(), r.resumeAt(), true));
      }
    }
    if (!due.isEmpty()) {
      due.retainAll(consumer.assignment());
      consumer.resume(due);
    }
  }

  private Duration nextPollTimeout(Instant now) {
    Duration timeout = pollTimeout;
    for (Retry r : retries.values()) {
      if (!r.resumed()) {
        Duration until = Duration.between(now, r.resumeAt());
        if (until.compareTo(timeout) < 0) {
          timeout = until.isNegative() ? Duration.ZERO : until;
        }
      }
    }
    return timeout;
  }

  /**
   * Commits the offsets of finished records. Keeps them for a later try if the commit may succeed
   * then.
   */
  private void commitDone() {
    if (done.isEmpty()) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = Map.copyOf(done);
    try {
      consumer.commitSync(offsets, COMMIT_TIMEOUT);
      offsets.forEach(done::remove);
    } catch (CommitFailedException e) {
      // The group moved on without us: the partitions' new owners receive these records again and
      // the
      // ledger recognises them as duplicates.
      log.warn(
          "kafka consumer {}: offsets {} could not be committed because the group rebalanced; the"
              + " records will be delivered again and deduplicated: {}",
          name(),
          offsets,
          e.getMessage());
      offsets.forEach(done::remove);
    } catch (RebalanceInProgressException | RetriableException e) {
      log.warn(
          "kafka consumer {}: committing offsets failed, will try again: {}", name(), e.toString());
    }
  }

  /**
   * Commits the offsets of finished records without waiting for the broker's answer, so that the
   * next poll, and the records that arrived meanwhile, do not wait for a round trip to the group
   * coordinator (at a low rate that wait was most of what the consumer added to an event's
   * latency). The answer is handled by a later poll: an offset acknowledged leaves {@link #done}
   * unless a later one replaced it; one that failed stays, and goes again with the next commit.
   * Revoked partitions and the shutdown still commit and wait.
   */
  private void commitDoneAsync() {
    if (done.isEmpty() || done.equals(committing) || !lifecycle.mayAcknowledge()) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> offsets = Map.copyOf(done);
    committing = offsets;
    consumer.commitAsync(
        offsets,
        (committed, error) -> {
          if (committing == offsets) {
            committing = Map.of();
          }
          if (error == null) {
            committed.forEach(done::remove);
          } else if (error instanceof CommitFailedException) {
            log.warn(
                "kafka consumer {}: offsets {} could not be committed because the group rebalanced;"
                    + " the records will be delivered again and deduplicated: {}",
                name(),
                committed,
                error.getMessage());
            committed.forEach(done::remove);
          } else {
            log.warn(
                "kafka consumer {}: committing offsets failed, will try again: {}",
                name(),
                error.toString());
          }
        });
  }

  private void commitOnShutdown() {
    for (int i = 0; i < 2 && !done.isEmpty(); i++) {
      try {
        commitDone();
        return;
      } catch (WakeupException e) {
        // a wakeup from close() that no poll consumed; it is consumed now, so try once more
      } catch (RuntimeException e) {
        log.warn(
            "kafka consumer {}: could not commit offsets {} on shutdown; those records will be"
                + " delivered again and deduplicated: {}",
            name(),
            done,
            e.toString());
        return;
      }
    }
  }

  /**
   * Keeps offsets and retry state in step with the partitions this consumer owns. Runs inside poll.
   */
  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      Map<TopicPartition, OffsetAndMetadata> mine = new LinkedHashMap<>();
      for (TopicPartition tp : partitions) {
        OffsetAndMetadata o = done.get(tp);
        if (o != null) {
          mine.put(tp, o);
        }
      }
      if (!mine.isEmpty()) {
        commitRevoked(mine);
      }
      partitions.forEach(done::remove);
      partitions.forEach(retries::remove);
      if (!partitions.isEmpty()) {
        log.info("kafka consumer {}: partitions revoked: {}", name(), partitions);
      }
    }

    private void commitRevoked(Map<TopicPartition, OffsetAndMetadata> offsets) {
      for (int i = 0; i < 2; i++) {
        try {
          consumer.commitSync(offsets, COMMIT_TIMEOUT);
          return;
        } catch (WakeupException e) {
          // close() is stopping the loop, which also checks its state after this poll; commit first
        } catch (RuntimeException e) {
          log.warn(
              "kafka consumer {}: could not commit offsets {} of revoked partitions; their next"
                  + " owner receives those records again and deduplicates them: {}",
              name(),
              offsets,
              e.toString());
          return;
        }
      }
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      // Another member may own them already: committing now could move its offsets backwards.
      partitions.forEach(done::remove);
      partitions.forEach(retries::remove);
      log.warn(
          "kafka consumer {}: partitions lost without a clean revocation: {}; their unfinished"
              + " records will be delivered again",
          name(),
          partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      partitions.forEach(retries::remove);
      if (!partitions.isEmpty()) {
        log.info("kafka consumer {}: partitions assigned: {}", name(), partitions);
      }
    }
  }

  @Override
  public long received() {
    return recordsSeen();
  }

  /**
   * Stops as a killed process would: the state is {@link State#CRASHED} at once, with a {@link
   * SubscriptionSpec.SimulatedCrash} as {@link #failure()}. The record in hand finishes (its
   * database outcome may commit) but is not acknowledged, and no offset is committed any more, so
   * every record whose offset was not committed yet is delivered again to the group. Returns
   * without waiting for the loop thread, which closes the Kafka consumer on its way out; {@link
   * #close()} waits for it. For fault injection in tests and demos.
   */
  @Override
  public void crash() {
    crash(new SubscriptionSpec.SimulatedCrash("crash() called"));
  }

  /** Crashes with {@code why} as the failure; also the pipelines' answer to a hook that threw. */
  private void crash(Throwable why) {
    lock.lock();
    try {
      if (lifecycle.crash(why) && consumer != null && Thread.currentThread() != loop) {
        consumer.wakeup();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops gracefully: finishes the record in hand, commits the offsets of finished records, closes
   * the Kafka consumer (leaving the group) and waits for the loop thread up to the close timeout.
   * Idempotent. After {@link #crash()} it commits nothing and only waits for the loop thread.
   */
  @Override
  public void close() {
    Thread t;
    lock.lock();
    try {
      if (lifecycle.stop()) {
        consumer.wakeup();
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
            "kafka consumer {} did not stop within {}; interrupting its thread",
            name(),
            closeTimeout);
        t.interrupt();
        t.join(Duration.ofSeconds(5));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Builds a {@link KafkaIdempotentConsumer}. Defaults: {@code enable.auto.commit=false}, {@code
   * auto.offset.reset=earliest}, {@code isolation.level=read_committed}, {@code
   * max.poll.records=100}, poll timeout 200 ms. Any consumer property may be set; those that would
   * lose or invent events are refused at {@link #build()} unless allowed with {@link
   * #allowUnsafe(String)}.
   *
   * <p>Every record is processed between two polls, so {@code max.poll.records} times the slowest
   * handler must stay well below {@code max.poll.interval.ms} (default 5 minutes).
   */
  public static final class Builder {
    private final Map<String, Object> properties = new LinkedHashMap<>();
    private final Set<String> allowedUnsafe = new LinkedHashSet<>();
    private final List<String> topics = new ArrayList<>();
    private IdempotentProcessor processor;
    private int maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;
    private Duration pollTimeout = Duration.ofMillis(200);
    private Duration closeTimeout = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;
    private AfterCommitHook afterCommit = AfterCommitHook.NONE;

    private Builder() {}

    /** The brokers to bootstrap from, {@code host:port[,host:port...]}. Required. */
    public Builder bootstrapServers(String bootstrapServers) {
      properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
      return this;
    }

    /** The consumer group; its committed offsets say which records are done. Required. */
    public Builder groupId(String groupId) {
      properties.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
      return this;
    }

    /** The consumer's {@code client.id}, shown in broker logs and quotas. */
    public Builder clientId(String clientId) {
      properties.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
      return this;
    }

    /** Adds topics to subscribe to. At least one is required. */
    public Builder topics(String... topics) {
      return topics(List.of(topics));
    }

    /** Adds topics to subscribe to. At least one is required. */
    public Builder topics(Collection<String> topics) {
      this.topics.addAll(topics);
      return this;
    }

    /** Sets one consumer property (for example security settings); it overrides the default. */
    public Builder property(String name, Object value) {
      Settings.put(properties, name, value);
      return this;
    }

    /** Sets several consumer properties; each overrides the default. */
    public Builder properties(Map<String, ?> properties) {
      this.properties.putAll(Settings.copy(properties));
      return this;
    }

    /** What runs each event through the ledger and the handler. Required. */
    public Builder processor(IdempotentProcessor processor) {
      this.processor = Objects.requireNonNull(processor, "processor");
      return this;
    }

    /**
     * The largest record accepted, counting key, value, header names and values (default 1 MiB). A
     * larger record is dead-lettered as {@code OVERSIZED} before anything in it is parsed.
     */
    public Builder maxRecordBytes(int maxRecordBytes) {
      this.maxRecordBytes = maxRecordBytes;
      return this;
    }

    /**
     * The longest a poll waits for records (default 200 ms). The loop polls sooner when a paused
     * partition is due to resume.
     */
    public Builder pollTimeout(Duration pollTimeout) {
      this.pollTimeout = pollTimeout;
      return this;
    }

    /**
     * How long {@link KafkaIdempotentConsumer#close()} waits for the loop to stop (default 30 s).
     */
    public Builder closeTimeout(Duration closeTimeout) {
      this.closeTimeout = closeTimeout;
      return this;
    }

    /**
     * The clock the consumer reads the time from (default {@link Clock#systemUTC()}): a partition
     * paused for a retry resumes once this clock passes the retry's due time ({@code now} plus the
     * processor's delay), and a record that carries neither a {@link KafkaHeaders#CREATED_AT}
     * header nor a timestamp is given this clock's time as its creation time. A clock that stands
     * still keeps a paused partition paused until it is moved. Read by the loop thread only; a
     * clock shared with other components must be safe for concurrent use, as the JDK's clocks and
     * {@code TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where the loop's thread comes from (default: a daemon platform thread). {@link
     * KafkaIdempotentConsumer#start()} takes one thread from it, names it {@code
     * courier-kafka-consumer-<name>} as it appears in the log, and starts it; {@link
     * KafkaIdempotentConsumer#close()} waits for it to end. The factory must return a new,
     * unstarted thread, and is called from the thread that calls {@code start()}, so one shared
     * with other components must be safe for concurrent use. The thread blocks in Kafka polls and
     * database calls; whether it is a daemon is the factory's choice, and a consumer whose thread
     * is not keeps the JVM alive until it is closed.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /**
     * Called on the loop thread after the outcome of a well-formed event committed and before its
     * offset is recorded for committing, for tests and demos of crash recovery: for every final
     * outcome (applied, duplicate, not addressed, dead-lettered), never for an undecodable record
     * nor for an attempt that will be retried. If it throws, the consumer behaves as a process that
     * died at that point: it stops at once, commits no further offsets, closes the Kafka consumer
     * and ends in {@link State#CRASHED} with the exception as {@link
     * KafkaIdempotentConsumer#failure()}. A new consumer in the same group then receives the event
     * again and the ledger reports it as a duplicate. Default: none.
     */
    public Builder afterCommit(AfterCommitHook hook) {
      this.afterCommit = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /**
     * Accepts the risk of one unsafe setting: {@code enable.auto.commit}, {@code auto.offset.reset}
     * or {@code isolation.level}. The consumer then builds, and logs a warning naming the risk when
     * it starts.
     */
    public Builder allowUnsafe(String setting) {
      allowedUnsafe.add(Objects.requireNonNull(setting, "setting"));
      return this;
    }

    /**
     * Checks the settings. The Kafka consumer is created by {@link
     * KafkaIdempotentConsumer#start()}.
     *
     * @throws UnsafeConfigurationException for a setting that can lose or invent events and was not
     *     allowed
     * @throws ConfigurationException for a missing or invalid setting
     */
    public KafkaIdempotentConsumer build() {
      Map<String, Object> props = new LinkedHashMap<>(properties);
      String bootstrap = Settings.text(props, ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
      if (bootstrap == null || bootstrap.isEmpty()) {
        throw new ConfigurationException(
            "bootstrapServers", "is required: the Kafka brokers to connect to");
      }
      String group = Settings.text(props, ConsumerConfig.GROUP_ID_CONFIG);
      if (group == null || group.isEmpty()) {
        throw new ConfigurationException(
            "groupId",
            "is required: the consumer group whose committed offsets record what is done");
      }
      if (processor == null) {
        throw new ConfigurationException(
            "processor", "is required: the IdempotentProcessor that handles events");
      }
      if (topics.isEmpty()) {
        throw new ConfigurationException("topics", "at least one topic is required");
      }
      for (String t : topics) {
        String problem = EventRecords.topicProblem(t);
        if (problem != null) {
          throw new ConfigurationException("topics", problem);
        }
      }
      for (String fixed :
          List.of(
              ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
              ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG)) {
        if (props.containsKey(fixed)) {
          throw new ConfigurationException(
              fixed,
              "cannot be set: the consumer reads key and value as bytes and decodes them itself");
        }
      }
      List<Settings.Unsafe> accepted =
          Settings.enforce(
              unsafe(props),
              allowedUnsafe,
              UNSAFE_SETTINGS,
              "KafkaIdempotentConsumer.Builder",
              "the kafka consumer");
      if (maxRecordBytes < 1) {
        throw new ConfigurationException(
            "maxRecordBytes", "must be at least 1 byte, was " + maxRecordBytes);
      }
      requirePositive("pollTimeout", pollTimeout);
      requirePositive("closeTimeout", closeTimeout);
      props.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      props.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      props.putIfAbsent(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
      props.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
      return new KafkaIdempotentConsumer(this, props, accepted);
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new ConfigurationException(name, "must be a positive duration, was " + d);
      }
    }

    private static List<Settings.Unsafe> unsafe(Map<String, Object> props) {
      List<Settings.Unsafe> found = new ArrayList<>();
      if ("true".equals(Settings.text(props, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG))) {
        found.add(
            new Settings.Unsafe(
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                "enable.auto.commit=true: auto-commit acknowledges records before their effect"
                    + " commits; a crash in between loses them."));
      }
      String reset = Settings.text(props, ConsumerConfig.AUTO_OFFSET_RESET_CONFIG);
      if (reset != null && !reset.equals("earliest") && !reset.equals("none")) {
        found.add(
            new Settings.Unsafe(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                "auto.offset.reset="
                    + reset
                    + ": a new consumer group, or one whose committed offsets expired, starts after"
                    + " the oldest records and never processes the events published before them."));
      }
      if ("read_uncommitted".equals(Settings.text(props, ConsumerConfig.ISOLATION_LEVEL_CONFIG))) {
        found.add(
            new Settings.Unsafe(
                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                "isolation.level=read_uncommitted: records of aborted Kafka transactions are"
                    + " delivered, so handlers see events that were never committed."));
      }
      return found;
    }
  }
}
