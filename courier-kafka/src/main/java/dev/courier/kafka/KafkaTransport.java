package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.Causes;
import dev.courier.internal.Threads;
import dev.courier.spi.PublishBatch;
import dev.courier.spi.PublishResult;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes events to Kafka with an idempotent producer and {@code acks=all}, and reports an event
 * as {@link PublishResult.Confirmed} only when the broker acknowledged its record.
 *
 * <p><b>Records.</b> Topic = {@link Event#destination()}, key = {@link Event#key()} (UTF-8, or no
 * key), value = the payload, and the headers of {@link KafkaHeaders} followed by every application
 * header as it is (UTF-8). The record timestamp is the send time (see {@link
 * KafkaHeaders#CREATED_AT} for why it is not the event's creation time).
 *
 * <p><b>Delivery and ordering.</b> {@link #publish} sends the batch in order, then waits for every
 * acknowledgement up to the timeout. Events with the same key go to the same partition and, because
 * the producer is idempotent with at most 5 requests in flight, keep their order there even across
 * the producer's own retries. If sending an event fails before it reaches the producer's buffer
 * with an error that a retry may fix, later events of the same topic and key in the batch are not
 * sent (they are reported as retriable failures), so that a retry cannot overtake them. An event
 * whose acknowledgement has not arrived by the deadline is a retriable failure, though the broker
 * may still store it: the relay then publishes it again, and consumers deduplicate. Kafka's
 * idempotence is per producer session, so it does not remove the duplicates of a relay that
 * restarted or retried; the processed-events ledger does. The first publish to a topic waits until
 * every partition of it is served by its leader (once per topic, see {@link PartitionReadiness}):
 * on brokers before Kafka 4.5 a topic created a moment ago could otherwise take records of a
 * pipelined request ahead of an earlier one of the same key.
 *
 * <p><b>Failures that retrying cannot fix</b> are reported non-retriable, and the relay parks the
 * event as dead at once: an illegal topic name, a record larger than {@link
 * Builder#maxRecordBytes(int)} or than the broker accepts ({@link RecordTooLargeException}, {@link
 * RecordBatchTooLargeException}), a record the broker refuses as invalid ({@link
 * InvalidRecordException}, for example a record without a key on a compacted topic), a {@link
 * InvalidTopicException} or a {@link SerializationException}, and an application header that uses
 * the reserved {@code courier-} prefix. Everything else is retriable, including authentication and
 * authorization failures and {@code UnknownServerException}: those are properties of the deployment
 * rather than of the event, an operator can fix them while the relay backs off, and the relay's
 * retry policy still parks the event as dead if they persist.
 *
 * <p><b>Timing.</b> {@link #publish} returns within its timeout plus at most the producer's {@code
 * max.block.ms} (default here 10 s), the longest a single send may wait for topic metadata or
 * buffer space. After one such wait times out, the rest of the batch for that topic is not sent.
 * Choose the relay's lease above publish timeout + {@code max.block.ms}.
 *
 * <p><b>Thread-safety.</b> Thread-safe: one instance may serve several relays. If the producer
 * reaches a state Kafka documents as fatal (for example an authentication failure while obtaining
 * its producer id), it is replaced by a new one for later batches; its unconfirmed events are
 * reported as retriable failures.
 */
public final class KafkaTransport implements Transport {
  private static final Logger log = LoggerFactory.getLogger(KafkaTransport.class);

  /**
   * The default of {@link Builder#maxRecordBytes(int)}: 1 MiB, about what a default broker accepts.
   */
  public static final int DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

  /**
   * The producer's default {@code linger.ms}: 1. {@link #publish} hands the producer a whole batch
   * and then waits for every acknowledgement, so a long linger only holds back the batch's last
   * records: Kafka's own default of 5 ms added up to 5 ms to every relay batch (in the benchmark,
   * awaited batches of 256 reached about a third of the rate they reach without it, and at low
   * rates it was most of the relay's latency). 1 ms is enough for the records of one batch to
   * travel together; with 0 the first record of a batch leaves alone and the rest follow in further
   * requests, more requests in flight per partition (which also widened the window of KAFKA-15591
   * on a topic just created; see {@link PartitionReadiness}, which now closes it). Set {@code
   * linger.ms} with {@link Builder#property} when many small publishes share one transport.
   */
  public static final int DEFAULT_LINGER_MS = 1;

  /**
   * The producer's default {@code batch.size}: 128 KiB, eight times Kafka's 16 KiB. The relay hands
   * over hundreds to thousands of records at once; with 16 KiB batches the producer and the broker
   * spent about twice the CPU per record and the relay drained less (W2 in docs/BENCHMARKS.md). A
   * batch's buffer is taken from {@code buffer.memory} (32 MiB by default) per partition written,
   * so a relay writing to more than about 200 partitions at once should lower it or raise that.
   */
  public static final int DEFAULT_BATCH_BYTES = 128 * 1024;

  private static final Set<String> UNSAFE_SETTINGS =
      Set.of(
          ProducerConfig.ACKS_CONFIG,
          ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
          ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);

  private final Map<String, Object> config;
  private final int maxRecordBytes;
  private final Duration closeTimeout;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final ReentrantLock lock = new ReentrantLock();
  private volatile Producer<byte[], byte[]> producer;
  private final PartitionReadiness readiness;
  private volatile boolean closed;

  private KafkaTransport(Builder b, Map<String, Object> config) {
    this.config = Map.copyOf(config);
    this.maxRecordBytes = b.maxRecordBytes;
    this.closeTimeout = b.closeTimeout;
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
    this.producer = newProducer(this.config);
    this.readiness = new PartitionReadiness(this.config);
  }

  /** Starts building a transport; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String name() {
    return "kafka";
  }

  /**
   * Starts a {@link KafkaIdempotentConsumer} on {@code spec.destination()} with the processor's
   * consumer name as its group id. It shares this transport's bootstrap servers and its {@code
   * security.*}, {@code sasl.*} and {@code ssl.*} settings; {@code spec.options()} are passed as
   * Kafka consumer properties (checked like the consumer builder's). The spec's after-commit hook
   * runs after each applied effect and before its offset is committed. The consumer reads the
   * time from this transport's {@link Builder#clock clock} and takes its thread from its {@link
   * Builder#threadFactory thread factory}.
   */
  @Override
  public KafkaIdempotentConsumer subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    return KafkaIdempotentConsumer.startFor(config, spec, processor, Map.of(), clock, threadFactory);
  }

  /** The largest record accepted, in bytes (key, value and headers). */
  public int maxRecordBytes() {
    return maxRecordBytes;
  }

  /**
   * Publishes a batch and waits for the broker's acknowledgement of each record; see the class
   * description for ordering, timing and which failures are retriable.
   */
  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    requireOpen();
    return new Batch(batch, timeout).publish();
  }

  private static final String MAX_RECORD_BYTES_SETTING = "KafkaTransport.Builder.maxRecordBytes";

  /** One batch on the current producer: what publishing is for Kafka; see {@link PublishBatch}. */
  private final class Batch extends PublishBatch<RecordMetadata> {
    private final Producer<byte[], byte[]> p = producer;
    // topics whose partitions are not yet served by their leaders (created a moment ago)
    private final Set<String> unservedTopics = new HashSet<>();
    // topics whose metadata could not be had in max.block.ms: sending more would only wait again
    private final Set<String> stalledTopics = new HashSet<>();
    // the last topic found legal: a batch's events mostly share one, checked once
    private String legalTopic;

    Batch(List<Event> events, Duration timeout) {
      super(events, timeout, "acknowledgement");
    }

    /** Waits until the partitions of each topic are served, once per topic (see the class). */
    @Override
    protected void beforeSending() throws InterruptedException {
      // the last topic found ready: a batch's events mostly share one, looked up once
      String readyTopic = null;
      for (Event e : events()) {
        String topic = e.destination();
        if (topic.equals(readyTopic) || unservedTopics.contains(topic)) {
          continue;
        }
        if (readiness.isReady(topic)) {
          readyTopic = topic;
        } else if (problem(e) == null && !readiness.awaitReady(topic, p, deadline())) {
          unservedTopics.add(topic);
        }
      }
    }

    @Override
    protected String problem(Event e) {
      String problem =
          EventRecords.publishProblem(
              e, maxRecordBytes, MAX_RECORD_BYTES_SETTING, e.destination().equals(legalTopic));
      if (problem == null) {
        legalTopic = e.destination();
      }
      return problem;
    }

    @Override
    protected PublishResult.Failed unavailable(Event e) {
      if (unservedTopics.contains(e.destination())) {
        return notSent(
            e,
            "the partitions of this topic were not yet served by their leaders within the publish"
                + " timeout (a topic created a moment ago, or a broker still starting)",
            null);
      }
      if (stalledTopics.contains(e.destination())) {
        return notSent(
            e,
            "the producer could not get metadata or buffer space for this topic in max.block.ms",
            null);
      }
      return null;
    }

    @Override
    protected Future<RecordMetadata> send(Event e) {
      return p.send(EventRecords.toRecord(e));
    }

    @Override
    protected PublishResult answered(Event e, RecordMetadata md) {
      return new PublishResult.Confirmed(e.id(), TransactionalProducers.position(md), false);
    }

    @Override
    protected PublishResult.Failed failed(Event e, Throwable error) {
      if (error instanceof TimeoutException) {
        stalledTopics.add(e.destination());
      }
      replaceIfFatal(p, error);
      return new PublishResult.Failed(e.id(), error, isRetriable(error));
    }
  }

  /**
   * Whether publishing again may succeed. Only failures that are a property of the record itself
   * are permanent; see the class description.
   */
  static boolean isRetriable(Throwable t) {
    return !Causes.anyOf(
        t,
        RecordTooLargeException.class,
        RecordBatchTooLargeException.class,
        InvalidTopicException.class,
        InvalidRecordException.class,
        SerializationException.class);
  }

  /** Whether Kafka leaves the producer unusable after this failure (it must be replaced). */
  private static boolean isFatalToProducer(Throwable t) {
    return Causes.anyOf(
        t,
        AuthenticationException.class,
        ClusterAuthorizationException.class,
        TransactionalIdAuthorizationException.class,
        ProducerFencedException.class,
        UnsupportedVersionException.class);
  }

  private void replaceIfFatal(Producer<byte[], byte[]> failed, Throwable t) {
    if (!isFatalToProducer(t)) {
      return;
    }
    lock.lock();
    try {
      if (closed || producer != failed) {
        return; // another thread replaced it already, or we are closing
      }
      producer = newProducer(config);
    } catch (RuntimeException e) {
      log.error(
          "could not create a replacement kafka producer; keeping the failed one: {}",
          e.toString());
      return;
    } finally {
      lock.unlock();
    }
    log.warn(
        "kafka producer failed with an error that leaves it unusable ({}); replaced it with a new"
            + " producer. Its unconfirmed events are retried by the relay",
        t.toString());
    // Zero timeout: its pending records fail at once and are retried through the new producer.
    try {
      failed.close(Duration.ZERO);
    } catch (RuntimeException e) {
      log.debug("closing the failed producer threw: {}", e.toString());
    }
  }

  private static Producer<byte[], byte[]> newProducer(Map<String, Object> config) {
    try {
      return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    } catch (KafkaException e) {
      throw new ConfigurationException(
          "producer properties", "Kafka refused the producer configuration: " + e.getMessage());
    }
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the kafka transport is closed");
    }
  }

  /**
   * Sends what is buffered, waits for it up to the close timeout, and closes the producer.
   * Unconfirmed events stay in the outbox and are published again. Idempotent.
   */
  @Override
  public void close() {
    Producer<byte[], byte[]> p;
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      p = producer;
    } finally {
      lock.unlock();
    }
    try {
      p.flush();
    } catch (RuntimeException e) {
      log.warn("flushing the kafka producer failed: {}", e.toString());
    } finally {
      p.close(closeTimeout);
      readiness.close();
    }
  }

  /**
   * Builds a {@link KafkaTransport}. Defaults: {@code acks=all}, {@code enable.idempotence=true},
   * {@code max.in.flight.requests.per.connection=5}, {@code retries=MAX}, {@code
   * delivery.timeout.ms=30000}, {@code request.timeout.ms=15000}, {@code linger.ms=1} (see {@link
   * #DEFAULT_LINGER_MS}), {@code batch.size=131072} (see {@link #DEFAULT_BATCH_BYTES}), {@code
   * max.block.ms=10000}, no compression. Any producer property may be set; those that would weaken
   * delivery are refused at {@link #build()} unless allowed with {@link #allowUnsafe(String)}.
   */
  public static final class Builder {
    private final Map<String, Object> properties = new LinkedHashMap<>();
    private final Set<String> allowedUnsafe = new LinkedHashSet<>();
    private int maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;
    private Duration closeTimeout = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;

    private Builder() {}

    /** The brokers to bootstrap from, {@code host:port[,host:port...]}. Required. */
    public Builder bootstrapServers(String bootstrapServers) {
      properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
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
     * Compresses batches with {@code none} (default), {@code gzip}, {@code snappy}, {@code lz4} or
     * {@code zstd}.
     */
    public Builder compression(String type) {
      properties.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, type);
      return this;
    }

    /**
     * The largest record this transport sends, counting key, value, header names and values
     * (default 1 MiB). A larger event fails non-retriably, naming its size and this limit, and the
     * relay parks it as dead. Keep it at or below the broker's {@code message.max.bytes} (or the
     * topic's {@code max.message.bytes}); a record under this limit but over the broker's fails the
     * same way once the broker refuses it.
     */
    public Builder maxRecordBytes(int maxRecordBytes) {
      this.maxRecordBytes = maxRecordBytes;
      return this;
    }

    /** How long {@link KafkaTransport#close()} waits for buffered records (default 30 s). */
    public Builder closeTimeout(Duration closeTimeout) {
      this.closeTimeout = closeTimeout;
      return this;
    }

    /**
     * The clock of the consumers {@link KafkaTransport#subscribe} starts (default {@link
     * Clock#systemUTC()}); see {@link KafkaIdempotentConsumer.Builder#clock} for what they read
     * from it. Publishing reads no clock: its deadlines are measured with {@link
     * System#nanoTime()}. Shared by every subscription of this transport, so it must be safe for
     * concurrent use, as the JDK's clocks and {@code TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where the consumers {@link KafkaTransport#subscribe} starts take their loop's thread (default:
     * daemon platform threads); see {@link KafkaIdempotentConsumer.Builder#threadFactory}. Each
     * subscription takes one thread, named {@code courier-kafka-consumer-<consumer>}. Publishing
     * starts no thread of Courier's (the Kafka producer runs its own I/O thread). Called from the
     * threads that subscribe, so it must be safe for concurrent use if they are several.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /**
     * Accepts the risk of one unsafe setting: {@code acks}, {@code enable.idempotence} or {@code
     * max.in.flight.requests.per.connection}. The transport then starts, logging a warning that
     * names the risk. With {@code acks=0} the broker acknowledges nothing, so "confirmed" only
     * means "handed to the socket".
     */
    public Builder allowUnsafe(String setting) {
      allowedUnsafe.add(Objects.requireNonNull(setting, "setting"));
      return this;
    }

    /**
     * Checks the settings and creates the producer (which connects lazily).
     *
     * @throws UnsafeConfigurationException for a setting that weakens delivery and was not allowed
     * @throws ConfigurationException for a missing or invalid setting, or one Kafka refuses
     */
    public KafkaTransport build() {
      Map<String, Object> props = Settings.producerProperties(properties, "the transport");
      if (props.containsKey(ProducerConfig.TRANSACTIONAL_ID_CONFIG)) {
        throw new ConfigurationException(
            ProducerConfig.TRANSACTIONAL_ID_CONFIG,
            "cannot be set on this transport: it publishes outside Kafka transactions, and a"
                + " transactional producer refuses every send made outside one. Kafka transactions"
                + " are a separate mode");
      }
      List<Settings.Unsafe> accepted =
          Settings.enforce(
              unsafe(props),
              allowedUnsafe,
              UNSAFE_SETTINGS,
              "KafkaTransport.Builder",
              "the kafka transport");
      Settings.checkRecordLimits(props, maxRecordBytes, closeTimeout);
      // The relay hands over whole batches and awaits each: a long linger only delays the batch.
      Settings.producerDefaults(props, DEFAULT_LINGER_MS);
      props.putIfAbsent(ProducerConfig.BATCH_SIZE_CONFIG, DEFAULT_BATCH_BYTES);
      KafkaTransport transport = new KafkaTransport(this, props);
      Settings.warn(accepted, log, "the kafka transport");
      return transport;
    }

    private static List<Settings.Unsafe> unsafe(Map<String, Object> props) {
      List<Settings.Unsafe> found = new ArrayList<>();
      String acks = Settings.text(props, ProducerConfig.ACKS_CONFIG);
      if (acks != null && !acks.equals("all") && !acks.equals("-1")) {
        found.add(
            new Settings.Unsafe(
                ProducerConfig.ACKS_CONFIG,
                switch (acks) {
                  case "0" ->
                      "acks=0: the producer does not wait for the broker at all, so a confirmation"
                          + " proves nothing and events can be lost silently.";
                  case "1" ->
                      "acks=1: the leader confirms before followers have the record; a leader"
                          + " failure loses confirmed events.";
                  default ->
                      "acks="
                          + acks
                          + ": only acks=all waits until every in-sync replica has the record.";
                }));
      }
      if ("false".equals(Settings.text(props, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG))) {
        found.add(
            new Settings.Unsafe(
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                "enable.idempotence=false: a retry after a lost response writes the record twice,"
                    + " and with several requests in flight the producer's retries can reorder"
                    + " events of one key."));
      }
      Integer inFlight =
          Settings.integer(props, ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
      if (inFlight != null && inFlight > 5) {
        found.add(
            new Settings.Unsafe(
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
                "max.in.flight.requests.per.connection="
                    + inFlight
                    + ": the idempotent producer keeps the order of a partition's records across"
                    + " retries only with at most 5 requests in flight (Kafka refuses more with"
                    + " idempotence on)."));
      }
      return found;
    }
  }
}
