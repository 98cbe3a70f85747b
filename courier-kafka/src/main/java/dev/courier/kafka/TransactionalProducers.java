package dev.courier.kafka;

import dev.courier.ConfigurationException;
import dev.courier.internal.Causes;
import dev.courier.internal.Futures;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What the transactional relay transport and the transactional processor share: the checks and
 * defaults of a transactional producer's settings, and how Kafka's errors are read.
 */
final class TransactionalProducers {
  /** The longest transactional id accepted; Kafka sets no limit, but ids appear in every log. */
  static final int MAX_TRANSACTIONAL_ID_LENGTH = 255;

  /** Creates Kafka producers; a seam for tests that must inject a failure into the real flow. */
  static final Function<Map<String, Object>, Producer<byte[], byte[]>> KAFKA =
      config -> new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());

  private TransactionalProducers() {}

  /**
   * Checks a transactional producer's settings and fills in the defaults: {@code acks=all}, {@code
   * enable.idempotence=true}, {@code max.in.flight.requests.per.connection=5}, {@code retries=MAX},
   * {@code delivery.timeout.ms=30000}, {@code request.timeout.ms=15000}, {@code linger.ms=5},
   * {@code max.block.ms=10000}, {@code transaction.timeout.ms=60000}.
   *
   * <p>Unlike the non-transactional transport, nothing weakening delivery can be accepted: Kafka
   * transactions exist only on an idempotent producer with {@code acks=all}, so such a setting is
   * refused without an override.
   *
   * @param owner the builder, for messages ({@code KafkaTransactionalTransport.Builder})
   * @throws ConfigurationException naming the setting and the rule it breaks
   */
  static Map<String, Object> producerConfig(
      Map<String, Object> properties, String transactionalId, String owner) {
    Map<String, Object> props = Settings.producerProperties(properties, "the producer");
    if (props.containsKey(ProducerConfig.TRANSACTIONAL_ID_CONFIG)) {
      throw new ConfigurationException(
          ProducerConfig.TRANSACTIONAL_ID_CONFIG,
          "cannot be set as a property: set it with " + owner + ".transactionalId(...)");
    }
    requireTransactionalId(transactionalId);
    String acks = Settings.text(props, ProducerConfig.ACKS_CONFIG);
    if (acks != null && !acks.equals("all") && !acks.equals("-1")) {
      throw new ConfigurationException(
          ProducerConfig.ACKS_CONFIG,
          "acks="
              + acks
              + " would let the broker confirm a record before every in-sync replica has it, so a"
              + " leader failure could lose records of a committed transaction. Kafka transactions"
              + " require acks=all; there is no override");
    }
    if ("false".equals(Settings.text(props, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG))) {
      throw new ConfigurationException(
          ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
          "enable.idempotence=false would let a retried send write a record twice inside a"
              + " transaction and reorder the records of a key. Kafka transactions require an"
              + " idempotent producer; there is no override");
    }
    Integer inFlight =
        Settings.integer(props, ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
    if (inFlight != null && inFlight > 5) {
      throw new ConfigurationException(
          ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION,
          "must be at most 5, was "
              + inFlight
              + ": with more requests in flight the idempotent producer cannot keep a partition's"
              + " records in order across retries, and Kafka refuses it for transactions");
    }
    props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    Settings.producerDefaults(props, 5);
    props.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000);
    int transactionTimeout = positive(props, ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
    int delivery = positive(props, ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG);
    int maxBlock = positive(props, ProducerConfig.MAX_BLOCK_MS_CONFIG);
    if ((long) transactionTimeout < (long) delivery + maxBlock) {
      throw new ConfigurationException(
          ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
          "must be at least delivery.timeout.ms + max.block.ms ("
              + ((long) delivery + maxBlock)
              + " ms), was "
              + transactionTimeout
              + " ms: otherwise the transaction coordinator may abort a transaction whose records"
              + " are still being delivered, and the producer would then look fenced");
    }
    return props;
  }

  /**
   * Checks a transactional id.
   *
   * @throws ConfigurationException if it is missing, blank, too long or holds control characters
   */
  static void requireTransactionalId(String transactionalId) {
    if (transactionalId == null || transactionalId.isBlank()) {
      throw new ConfigurationException(
          "transactionalId",
          "is required: one stable id per instance (for example the relay id), reused when the"
              + " instance restarts so that the new producer fences the old one");
    }
    if (transactionalId.length() > MAX_TRANSACTIONAL_ID_LENGTH
        || !transactionalId.equals(transactionalId.strip())
        || transactionalId.chars().anyMatch(Character::isISOControl)) {
      throw new ConfigurationException(
          "transactionalId",
          "must be 1 to "
              + MAX_TRANSACTIONAL_ID_LENGTH
              + " characters without control characters or surrounding spaces, was '"
              + EventRecords.printable(transactionalId)
              + "'");
    }
  }

  private static int positive(Map<String, Object> props, String key) {
    Integer v = Settings.integer(props, key);
    if (v == null || v < 1) {
      throw new ConfigurationException(key, "must be a positive number of milliseconds, was " + v);
    }
    return v;
  }

  /**
   * Creates a producer, reporting a configuration Kafka refuses as a {@link
   * ConfigurationException}.
   */
  static Producer<byte[], byte[]> create(
      Function<Map<String, Object>, Producer<byte[], byte[]>> factory, Map<String, Object> config) {
    try {
      return factory.apply(config);
    } catch (KafkaException e) {
      throw new ConfigurationException(
          "producer properties", "Kafka refused the producer configuration: " + e.getMessage());
    }
  }

  /**
   * Whether the failure says that a newer producer with the same transactional id exists. Kafka
   * reports it as {@link ProducerFencedException}, or as {@link InvalidProducerEpochException} when
   * a partition leader sees the stale epoch first.
   */
  static boolean isFenced(Throwable t) {
    return Causes.anyOf(t, ProducerFencedException.class, InvalidProducerEpochException.class);
  }

  /** Where a record was stored, for logs: {@code orders-2@1042}. */
  static String position(RecordMetadata md) {
    return md.topic()
        + "-"
        + md.partition()
        + "@"
        + (md.hasOffset() ? Long.toString(md.offset()) : "unacknowledged");
  }

  /** Closes a producer without waiting; what it had not sent is dropped. Never throws. */
  static void closeNow(Producer<byte[], byte[]> producer) {
    if (producer == null) {
      return;
    }
    try {
      producer.close(java.time.Duration.ZERO);
    } catch (RuntimeException e) {
      // it is being thrown away; a failure to close says nothing about the events
    }
  }

  /** The failure of a send that has completed, or {@code null} if it succeeded or is pending. */
  static Throwable failureOf(Future<RecordMetadata> f) {
    return Futures.failureOf(f);
  }

  /**
   * The records sent in one transaction, in send order, each with what it stands for, and the order
   * in which sends failed.
   *
   * <p>Why the order matters: once one send fails, Kafka puts the transaction in an error state and
   * fails the records still waiting in its buffer with the same error. A record too large for the
   * broker thus makes smaller records of the same transaction fail with {@link
   * RecordTooLargeException} too. {@link #culprit()} picks the one record such an error is really
   * about, so that only that one is treated as unpublishable; if several records are bad, the next
   * attempts find them one by one.
   *
   * @param <A> what each record stands for (an index into a batch, an input record)
   */
  static final class Sends<A> {
    private final List<Future<RecordMetadata>> futures = new ArrayList<>();
    private final List<A> attachments = new ArrayList<>();
    private final List<Long> sizes = new ArrayList<>();
    private final Queue<Integer> failureOrder = new ConcurrentLinkedQueue<>();

    /**
     * Sends a record and remembers it.
     *
     * @throws RuntimeException what {@link Producer#send} throws; nothing is remembered then
     */
    Future<RecordMetadata> send(
        Producer<byte[], byte[]> producer, ProducerRecord<byte[], byte[]> record, A attachment) {
      int index = futures.size();
      Future<RecordMetadata> f =
          producer.send(
              record,
              (metadata, error) -> {
                if (error != null) {
                  failureOrder.add(index);
                }
              });
      futures.add(f);
      attachments.add(attachment);
      sizes.add(bytes(record));
      return f;
    }

    int size() {
      return futures.size();
    }

    Future<RecordMetadata> future(int index) {
      return futures.get(index);
    }

    A attachment(int index) {
      return attachments.get(index);
    }

    /**
     * The index of the record that a non-retriable failure of this transaction is about, or -1 when
     * no send failed for a reason that retrying cannot fix. Among records refused as too large, the
     * largest; otherwise the first record to fail.
     */
    int culprit() {
      int largest = -1;
      for (int i = 0; i < futures.size(); i++) {
        Throwable t = failureOf(futures.get(i));
        if (t != null && isTooLarge(t) && (largest < 0 || sizes.get(i) > sizes.get(largest))) {
          largest = i;
        }
      }
      if (largest >= 0) {
        return largest;
      }
      for (int i : failureOrder) {
        Throwable t = failureOf(futures.get(i));
        if (t != null && !KafkaTransport.isRetriable(t)) {
          return i;
        }
      }
      return -1;
    }

    private static boolean isTooLarge(Throwable t) {
      return Causes.anyOf(t, RecordTooLargeException.class, RecordBatchTooLargeException.class);
    }

    private static long bytes(ProducerRecord<byte[], byte[]> record) {
      long n =
          (record.key() == null ? 0 : record.key().length)
              + (long) (record.value() == null ? 0 : record.value().length);
      for (Header h : record.headers()) {
        n += h.key().length() + (h.value() == null ? 0 : h.value().length);
      }
      return n;
    }
  }
}
