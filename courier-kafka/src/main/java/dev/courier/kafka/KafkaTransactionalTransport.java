package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.Threads;
import dev.courier.spi.PublishResult;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes each batch of events in one Kafka transaction: {@code read_committed} consumers see all
 * of a batch or none of it, and a relay that was replaced is fenced off the topic.
 *
 * <p><b>Transactional id.</b> The builder requires one, and it must be stable per relay instance:
 * use the relay's id (or a deployment ordinal such as {@code relay-0}), never a random value, and
 * reuse it when that instance restarts. Two live relays must not share an id. When a producer
 * initialises transactions ({@link #start()}, or the first {@link #publish}), the broker fences
 * every older producer with the same id: any transaction it left open is aborted, and everything it
 * sends afterwards is refused. That is what stops a zombie relay (one that was presumed dead after
 * a pause or a partition and replaced) from writing to the topic.
 *
 * <p><b>Outcomes of {@link #publish}.</b>
 *
 * <ul>
 *   <li>Every record acknowledged and the transaction committed: every event is {@link
 *       PublishResult.Confirmed} with its position.
 *   <li>A send failed, or an acknowledgement did not arrive in time: the transaction is aborted and
 *       every event is a retriable {@link PublishResult.Failed}, except an event whose own record
 *       can never be accepted (too large, illegal topic, reserved header), which is non-retriable
 *       so that the relay parks it as dead. Kafka fails the transaction's other records with that
 *       record's error too, so one record is blamed per attempt: the largest of those refused as
 *       too large, otherwise the first to fail. The aborted records stay in the log but are never
 *       shown to {@code read_committed} consumers.
 *   <li>This producer was fenced ({@code ProducerFencedException} or {@code
 *       InvalidProducerEpochException}): the instance is a zombie. Every event is a retriable
 *       failure carrying a {@link KafkaProducerFencedException} (the live relay publishes them once
 *       their lease expires), the transport stays fenced and fails every later publish at once with
 *       the same error, and the {@link Builder#onFenced} callback runs. It does not try to
 *       initialise again, which would fence the live relay in turn.
 *   <li>The outcome is unknown (the commit timed out, the thread was interrupted during it, an
 *       abort failed): the producer is closed and never used again, and the next publish creates a
 *       new one and initialises transactions, which makes the coordinator finish the old
 *       transaction one way or the other. Every event is a retriable failure. If the old
 *       transaction did commit, the relay publishes its events again: they appear twice on the
 *       topic with the same event ids, and consumers deduplicate them in their ledger.
 * </ul>
 *
 * <p><b>What this does not make exactly-once.</b> The outbox row is marked published in the
 * database after the Kafka commit, outside the Kafka transaction. A relay that dies between the two
 * publishes the batch again later, in a new committed transaction. The transactional relay
 * therefore gives atomic batches, invisible aborted attempts and zombie fencing; end-to-end
 * exactly-once effects still come from the consumer's processed-events ledger.
 *
 * <p><b>Timing.</b> A publish waits for acknowledgements up to its timeout, capped at {@code
 * transaction.timeout.ms - max.block.ms} so that the transaction is always ended by this producer
 * before the coordinator would time it out; committing or aborting then takes at most {@code
 * max.block.ms}. Choose the relay's lease above its publish timeout plus {@code max.block.ms}. A
 * relay that dies with a transaction open holds back {@code read_committed} consumers of the
 * partitions it wrote to until the transaction is aborted: at once when the restarted relay
 * initialises with the same id, otherwise after {@code transaction.timeout.ms} (default here 60 s).
 *
 * <p><b>Thread-safety.</b> Thread-safe. Transactions are serialised: one publish at a time holds
 * the producer; a publish that cannot get it within its timeout reports retriable failures.
 */
public final class KafkaTransactionalTransport implements Transport {
  private static final Logger log = LoggerFactory.getLogger(KafkaTransactionalTransport.class);

  private final Map<String, Object> config;
  private final String transactionalId;
  private final int maxRecordBytes;
  private final Duration closeTimeout;
  private final Duration maxTransactionWait;
  private final Clock clock;
  private final ThreadFactory subscriptionThreads;
  private final TransactionalSession session;
  private volatile boolean closed;

  private KafkaTransactionalTransport(Builder b, Map<String, Object> config) {
    this.config = Map.copyOf(config);
    this.transactionalId = b.transactionalId;
    this.maxRecordBytes = b.maxRecordBytes;
    this.closeTimeout = b.closeTimeout;
    this.clock = b.clock;
    this.subscriptionThreads = b.threadFactory != null ? b.threadFactory : Threads.DAEMON_PLATFORM;
    int transactionTimeout =
        Settings.integer(this.config, ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
    int maxBlock = Settings.integer(this.config, ProducerConfig.MAX_BLOCK_MS_CONFIG);
    this.maxTransactionWait = Duration.ofMillis(Math.max(1, transactionTimeout - maxBlock));
    this.session =
        new TransactionalSession(
            this.config,
            transactionalId,
            b.producerFactory,
            b.onFenced,
            b.threadFactory != null ? b.threadFactory : Thread.ofVirtual().factory());
  }

  /** Starts building a transport; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String name() {
    return "kafka-transactional";
  }

  /** The {@code transactional.id} this transport's producers use. */
  public String transactionalId() {
    return transactionalId;
  }

  /** The largest record accepted, in bytes (key, value and headers). */
  public int maxRecordBytes() {
    return maxRecordBytes;
  }

  /** Whether a newer producer with the same transactional id fenced this transport. */
  public boolean isFenced() {
    return session.fenced() != null;
  }

  /** How many producers this transport created: 1, plus one per re-initialisation. For tests. */
  int producersCreated() {
    return session.producersCreated();
  }

  /**
   * Initialises transactions now instead of at the first publish. This fences every older producer
   * with the same transactional id and aborts the transaction it left open, so a restarted relay
   * should call it before it starts publishing. Calling it again does nothing.
   *
   * @throws KafkaProducerFencedException if this transport is fenced
   * @throws RetriableCourierException if the broker could not be reached in {@code max.block.ms};
   *     the next call or publish tries again with a new producer
   * @throws IllegalStateException if the transport is closed
   */
  public void start() {
    session.lock();
    try {
      requireOpen();
      KafkaProducerFencedException f = session.fenced();
      if (f != null) {
        throw f;
      }
      session.producer();
    } finally {
      session.unlock();
    }
  }

  /**
   * Starts a {@link KafkaIdempotentConsumer} on {@code spec.destination()} with the processor's
   * consumer name as its group id and {@code isolation.level=read_committed}, so that it never sees
   * records of aborted transactions. It shares this transport's bootstrap servers and its {@code
   * security.*}, {@code sasl.*} and {@code ssl.*} settings; {@code spec.options()} are passed as
   * Kafka consumer properties and checked as the consumer builder checks them ({@code
   * read_uncommitted} is refused). The consumer reads the time from this transport's {@link
   * Builder#clock clock} and takes its thread from its {@link Builder#threadFactory thread
   * factory}.
   */
  @Override
  public KafkaIdempotentConsumer subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    return KafkaIdempotentConsumer.startFor(
        config,
        spec,
        processor,
        Map.of("isolation.level", "read_committed"),
        clock,
        subscriptionThreads);
  }

  /**
   * Publishes the batch in one transaction and reports one result per event, in the batch's order;
   * see the class description for the outcomes.
   *
   * @throws IllegalStateException if the transport is closed
   */
  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(timeout, "timeout");
    requireOpen();
    int n = batch.size();
    if (n == 0) {
      return List.of();
    }
    PublishResult[] results = new PublishResult[n];
    List<Integer> sendable = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Event e = batch.get(i);
      String problem = problem(e);
      if (problem == null) {
        sendable.add(i);
      } else {
        results[i] = PublishResult.refused(e, problem);
      }
    }
    if (sendable.isEmpty()) {
      return Arrays.asList(results);
    }
    long deadline = System.nanoTime() + Math.min(timeout.toNanos(), maxTransactionWait.toNanos());
    KafkaProducerFencedException f = session.fenced();
    if (f != null) {
      return failAll(batch, sendable, results, f);
    }
    boolean locked;
    try {
      locked = session.tryLock(Math.max(0, deadline - System.nanoTime()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      locked = false;
    }
    if (!locked) {
      return failAll(
          batch,
          sendable,
          results,
          new RetriableCourierException(
              "not sent: another publish held this transport's transaction until the timeout of "
                  + timeout
                  + " passed",
              null));
    }
    try {
      requireOpen();
      f = session.fenced();
      if (f != null) {
        return failAll(batch, sendable, results, f);
      }
      Producer<byte[], byte[]> p;
      try {
        p = session.producer();
      } catch (KafkaProducerFencedException | RetriableCourierException e) {
        return failAll(batch, sendable, results, e);
      }
      return inTransaction(p, batch, sendable, results, deadline, timeout);
    } finally {
      session.unlock();
    }
  }

  private List<PublishResult> inTransaction(
      Producer<byte[], byte[]> p,
      List<Event> batch,
      List<Integer> sendable,
      PublishResult[] results,
      long deadline,
      Duration timeout) {
    try {
      p.beginTransaction();
    } catch (RuntimeException e) {
      if (TransactionalProducers.isFenced(e)) {
        return failAll(batch, sendable, results, session.fence(p, e));
      }
      session.discard(p);
      return failAll(
          batch,
          sendable,
          results,
          new RetriableCourierException(
              "beginning a Kafka transaction failed ("
                  + e
                  + "); the producer was replaced and the events are published again",
              e));
    }
    TransactionalProducers.Sends<Integer> sends = new TransactionalProducers.Sends<>();
    Throwable failure = null;
    int threwAt = -1; // the position in sendable of an event whose send threw
    for (int k = 0; k < sendable.size(); k++) {
      try {
        Future<RecordMetadata> future =
            sends.send(p, EventRecords.toRecord(batch.get(sendable.get(k))), sendable.get(k));
        failure = TransactionalProducers.failureOf(future);
        if (failure != null) {
          break;
        }
      } catch (RuntimeException e) {
        failure = e;
        threwAt = k;
        break;
      }
    }
    for (int k = 0; failure == null && k < sends.size(); k++) {
      long remaining = Math.max(0, deadline - System.nanoTime());
      try {
        sends.future(k).get(remaining, TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        failure = e.getCause() != null ? e.getCause() : e;
      } catch (TimeoutException e) {
        failure =
            new RetriableCourierException(
                "no acknowledgement from the broker within " + timeout + "; transaction aborted",
                e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        failure =
            new RetriableCourierException(
                "the publishing thread was interrupted; transaction aborted", e);
      }
    }
    if (failure == null) {
      return commit(p, batch, sendable, sends, results);
    }
    return abort(p, batch, sendable, sends, threwAt, results, failure);
  }

  private List<PublishResult> commit(
      Producer<byte[], byte[]> p,
      List<Event> batch,
      List<Integer> sendable,
      TransactionalProducers.Sends<Integer> sends,
      PublishResult[] results) {
    try {
      p.commitTransaction();
    } catch (RuntimeException e) {
      if (TransactionalProducers.isFenced(e)) {
        return failAll(batch, sendable, results, session.fence(p, e));
      }
      // Timed out, interrupted, or failed in a way Kafka does not let us resolve: the transaction
      // may or may not have committed. This producer must not be used again.
      session.discard(p);
      log.warn(
          "kafka transaction of {} events with transactional.id {} ended with an unknown outcome;"
              + " the producer was closed and a new one will be initialised before the next"
              + " publish. If it did commit, the events are published again and consumers"
              + " deduplicate them: {}",
          sendable.size(),
          transactionalId,
          e.toString());
      return failAll(
          batch,
          sendable,
          results,
          new RetriableCourierException(
              "the commit of the Kafka transaction failed or its outcome is unknown ("
                  + e
                  + "); the producer was replaced, and the events are published again",
              e));
    }
    for (int k = 0; k < sendable.size(); k++) {
      int i = sendable.get(k);
      Event e = batch.get(i);
      String position;
      try {
        position = TransactionalProducers.position(sends.future(k).get());
      } catch (ExecutionException | InterruptedException ex) {
        // Cannot happen after a successful commit: every send completed.
        position = "committed";
        if (ex instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
      }
      results[i] = new PublishResult.Confirmed(e.id(), position, false);
    }
    return Arrays.asList(results);
  }

  private List<PublishResult> abort(
      Producer<byte[], byte[]> p,
      List<Event> batch,
      List<Integer> sendable,
      TransactionalProducers.Sends<Integer> sends,
      int threwAt,
      PublishResult[] results,
      Throwable failure) {
    if (TransactionalProducers.isFenced(failure)) {
      return failAll(batch, sendable, results, session.fence(p, failure));
    }
    Throwable abortFailure = null;
    try {
      p.abortTransaction();
    } catch (RuntimeException e) {
      abortFailure = e;
    }
    if (abortFailure != null && TransactionalProducers.isFenced(abortFailure)) {
      return failAll(batch, sendable, results, session.fence(p, abortFailure));
    }
    if (abortFailure != null) {
      session.discard(p);
      log.warn(
          "kafka transaction with transactional.id {} could not be aborted ({}); the producer was"
              + " closed, and initialising a new one aborts it",
          transactionalId,
          abortFailure.toString());
    } else {
      log.warn(
          "kafka transaction of {} events with transactional.id {} aborted; none of them is"
              + " visible to read_committed consumers, and the relay retries them: {}",
          sendable.size(),
          transactionalId,
          failure.toString());
    }
    // Kafka fails the other records of the transaction with the culprit's error as well; only the
    // culprit itself can never be published.
    int culprit = threwAt >= 0 && !KafkaTransport.isRetriable(failure) ? threwAt : sends.culprit();
    for (int k = 0; k < sendable.size(); k++) {
      int i = sendable.get(k);
      Event e = batch.get(i);
      if (k == culprit) {
        Throwable own = k == threwAt ? failure : TransactionalProducers.failureOf(sends.future(k));
        results[i] = new PublishResult.Failed(e.id(), own, false);
      } else {
        results[i] =
            PublishResult.retriable(
                e, "not published: the Kafka transaction was aborted because " + failure, failure);
      }
    }
    return Arrays.asList(results);
  }

  private List<PublishResult> failAll(
      List<Event> batch, List<Integer> sendable, PublishResult[] results, Throwable error) {
    for (int i : sendable) {
      results[i] = new PublishResult.Failed(batch.get(i).id(), error, true);
    }
    return Arrays.asList(results);
  }

  /** Why this event cannot be published however often it is tried, or {@code null}. */
  private String problem(Event e) {
    return EventRecords.publishProblem(
        e, maxRecordBytes, "KafkaTransactionalTransport.Builder.maxRecordBytes");
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(
          "the kafka transactional transport " + transactionalId + " is closed");
    }
  }

  /**
   * Closes the producer. No transaction is open between publishes, so nothing is left hanging; a
   * publish in progress finishes first. Idempotent.
   */
  @Override
  public void close() {
    session.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      session.close(closeTimeout);
    } finally {
      session.unlock();
    }
  }

  /**
   * Builds a {@link KafkaTransactionalTransport}. Defaults are those of {@link KafkaTransport} plus
   * {@code transaction.timeout.ms=60000}: {@code acks=all}, {@code enable.idempotence=true}, {@code
   * max.in.flight.requests.per.connection=5}, {@code retries=MAX}, {@code
   * delivery.timeout.ms=30000}, {@code request.timeout.ms=15000}, {@code linger.ms=5}, {@code
   * max.block.ms=10000}. Settings that would weaken delivery are refused at {@link #build()}
   * without an override, since Kafka transactions cannot work with them.
   */
  public static final class Builder {
    private final Map<String, Object> properties = new LinkedHashMap<>();
    private String transactionalId;
    private int maxRecordBytes = KafkaTransport.DEFAULT_MAX_RECORD_BYTES;
    private Duration closeTimeout = Duration.ofSeconds(30);
    private Function<Map<String, Object>, Producer<byte[], byte[]>> producerFactory =
        TransactionalProducers.KAFKA;
    private Consumer<KafkaProducerFencedException> onFenced = f -> {};
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory;

    private Builder() {}

    /** The brokers to bootstrap from, {@code host:port[,host:port...]}. Required. */
    public Builder bootstrapServers(String bootstrapServers) {
      properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
      return this;
    }

    /**
     * The producer's {@code transactional.id}. Required. One stable id per relay instance (the
     * relay id is a good choice), reused when the instance restarts and never shared by two live
     * relays: initialising a producer with an id fences every older producer holding it.
     */
    public Builder transactionalId(String transactionalId) {
      this.transactionalId = transactionalId;
      return this;
    }

    /** The producer's {@code client.id}, shown in broker logs and quotas. */
    public Builder clientId(String clientId) {
      properties.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
      return this;
    }

    /** Sets one producer property (for example security settings); it overrides the default. */
    public Builder property(String name, Object value) {
      Settings.put(properties, name, value);
      return this;
    }

    /** Sets several producer properties; each overrides the default. */
    public Builder properties(Map<String, ?> properties) {
      this.properties.putAll(Settings.copy(properties));
      return this;
    }

    /**
     * The largest record this transport sends, counting key, value, header names and values
     * (default 1 MiB). A larger event fails non-retriably and the relay parks it as dead.
     */
    public Builder maxRecordBytes(int maxRecordBytes) {
      this.maxRecordBytes = maxRecordBytes;
      return this;
    }

    /**
     * How long {@link KafkaTransactionalTransport#close()} waits for the producer (default 30 s).
     */
    public Builder closeTimeout(Duration closeTimeout) {
      this.closeTimeout = closeTimeout;
      return this;
    }

    /**
     * Called once, on a thread of its own, when a newer producer fenced this transport. Wire it to
     * stop the relay ({@code relay::close}): a zombie relay that kept running would go on claiming
     * outbox rows and charging each of them a failed attempt.
     */
    public Builder onFenced(Consumer<KafkaProducerFencedException> onFenced) {
      this.onFenced = Objects.requireNonNull(onFenced, "onFenced");
      return this;
    }

    /**
     * The clock of the consumers {@link KafkaTransactionalTransport#subscribe} starts (default
     * {@link Clock#systemUTC()}); see {@link KafkaIdempotentConsumer.Builder#clock} for what they
     * read from it. Publishing reads no clock: its deadlines are measured with {@link
     * System#nanoTime()}. Shared by every subscription of this transport, so it must be safe for
     * concurrent use, as the JDK's clocks and {@code TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where this transport's threads come from: the loop thread of each consumer {@link
     * KafkaTransactionalTransport#subscribe} starts (named {@code courier-kafka-consumer-<consumer>},
     * see {@link KafkaIdempotentConsumer.Builder#threadFactory}) and the one thread that runs the
     * {@link #onFenced} callback ({@code courier-kafka-fenced-<transactional.id>}). Unset, the
     * consumers run on daemon platform threads and the callback on a virtual thread. The factory
     * must return a new, unstarted thread; if it returns none for the callback, the callback is not
     * called and an error is logged. It is called from the threads that subscribe and publish, so
     * it must be safe for concurrent use.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /** Replaces how producers are created; for tests that inject failures into the real flow. */
    Builder producerFactory(Function<Map<String, Object>, Producer<byte[], byte[]>> factory) {
      this.producerFactory = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /**
     * Checks the settings and creates the producer (which connects when transactions are first
     * initialised).
     *
     * @throws ConfigurationException for a missing, invalid or unsafe setting, naming it and the
     *     rule it breaks
     */
    public KafkaTransactionalTransport build() {
      Map<String, Object> props =
          TransactionalProducers.producerConfig(
              properties, transactionalId, "KafkaTransactionalTransport.Builder");
      Settings.checkRecordLimits(props, maxRecordBytes, closeTimeout);
      return new KafkaTransactionalTransport(this, props);
    }
  }
}
