package dev.courier.kafka;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds back the first publish to a topic until the broker leading each of its partitions serves
 * it.
 *
 * <p>Why: a broker before Kafka 4.5 accepts any first sequence number from an idempotent producer
 * it holds no state for (KAFKA-15591). On a topic just created (by an administrator a moment ago,
 * or by the first publish itself when {@code auto.create.topics.enable} is on) the producer's first
 * request to a partition can arrive before the broker has taken up the partition and fail with
 * {@code NOT_LEADER_OR_FOLLOWER}, while the next request, pipelined behind it, arrives after and is
 * stored. The first request's records then meet {@code OUT_OF_ORDER_SEQUENCE_NUMBER} on every retry
 * until their delivery timeout: nothing is lost through Courier, which marks a row published only
 * on an acknowledgement and publishes the expired records again, but they stall for the delivery
 * timeout and land behind later events of their key. Asking each partition's leader for its end
 * offset (a request only the serving leader answers) before the first send closes that window.
 *
 * <p>The check runs once per topic and transport. It uses an admin client made from the
 * producer's connection and security settings. When the check itself is refused for good (no
 * {@code DESCRIBE} permission, a broker too old for the request), it is skipped for that topic with
 * one warning and publishing goes on as without it.
 */
final class PartitionReadiness implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PartitionReadiness.class);
  private static final Duration PAUSE = Duration.ofMillis(25);

  private final Map<String, Object> adminConfig;
  private final Set<String> ready = ConcurrentHashMap.newKeySet();
  private Admin admin;
  private boolean closed;

  PartitionReadiness(Map<String, Object> producerConfig) {
    Map<String, Object> admin = new HashMap<>();
    Set<String> known = AdminClientConfig.configNames();
    producerConfig.forEach(
        (k, v) -> {
          if (known.contains(k) && !k.equals(AdminClientConfig.CLIENT_ID_CONFIG)) {
            admin.put(k, v);
          }
        });
    this.adminConfig = Map.copyOf(admin);
  }

  /** Whether the topic has been found ready (or its check skipped) by this transport. */
  boolean isReady(String topic) {
    return ready.contains(topic);
  }

  /**
   * Returns once every partition of the topic is served by its leader, or when the check cannot be
   * made; returns {@code false} if the deadline passes first.
   *
   * @param deadline a {@link System#nanoTime()} value
   */
  boolean awaitReady(String topic, Producer<byte[], byte[]> producer, long deadline)
      throws InterruptedException {
    if (ready.contains(topic)) {
      return true;
    }
    String lastProblem = "no answer yet";
    while (System.nanoTime() - deadline < 0) {
      try {
        // blocks up to max.block.ms for metadata; this is also what creates an auto-created topic
        List<PartitionInfo> partitions = producer.partitionsFor(topic);
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (PartitionInfo p : partitions) {
          request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
        }
        long remainingMs =
            Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        admin()
            .listOffsets(request, new ListOffsetsOptions().timeoutMs((int) Math.min(remainingMs, Integer.MAX_VALUE)))
            .all()
            .get(remainingMs, TimeUnit.MILLISECONDS);
        ready.add(topic);
        return true;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        if (!(cause instanceof RetriableException)) {
          return skip(topic, cause);
        }
        lastProblem = cause.toString();
      } catch (TimeoutException | org.apache.kafka.common.errors.TimeoutException e) {
        lastProblem = e.toString();
      } catch (KafkaException e) {
        if (!(e instanceof RetriableException)) {
          return skip(topic, e);
        }
        lastProblem = e.toString();
      }
      long pause = Math.min(PAUSE.toNanos(), deadline - System.nanoTime());
      if (pause > 0) {
        TimeUnit.NANOSECONDS.sleep(pause);
      }
    }
    log.debug("partitions of topic {} not served by their leaders yet: {}", topic, lastProblem);
    return false;
  }

  private boolean skip(String topic, Throwable cause) {
    log.warn(
        "cannot check that the partitions of topic {} are served before the first publish ({});"
            + " publishing without the check. On brokers before Kafka 4.5 the first records sent"
            + " to a topic created a moment ago may then wait for the delivery timeout",
        topic,
        cause.toString());
    ready.add(topic);
    return true;
  }

  private synchronized Admin admin() {
    if (closed) {
      throw new IllegalStateException("closed");
    }
    if (admin == null) {
      admin = Admin.create(adminConfig);
    }
    return admin;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (admin != null) {
      admin.close(Duration.ofSeconds(5));
      admin = null;
    }
  }
}
