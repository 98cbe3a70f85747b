package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.kafka.KafkaHeaders;
import dev.courier.kafka.KafkaIdempotentConsumer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * W4: what the processed-events ledger costs a consumer. The same topic, holding a share of
 * duplicate deliveries (a record published again with the same event id, as a relay retry does), is
 * consumed twice from the start:
 *
 * <ul>
 *   <li>by {@link KafkaIdempotentConsumer} with an {@link IdempotentProcessor} whose handler
 *       inserts the effect row (ledger row and effect in one transaction; duplicates skipped);
 *   <li>by a plain Kafka consumer with the same settings and the same shape (records one at a time,
 *       one transaction per record inserting the same effect row, offsets committed synchronously
 *       after each poll), with no ledger: duplicates are simply applied again.
 * </ul>
 *
 * <p>Throughput is deliveries per second, from the first record handled to the last one committed.
 */
final class ConsumerCost {
  static final int PAYLOAD = 256;
  private static final int MIN_RECORDS = 300;
  private static final int MAX_RECORDS = 200_000;

  private ConsumerCost() {}

  static void run(RunContext ctx) {
    // Size the topic so that a consumer committing one transaction per record takes about
    // --duration: the business-only commit rate at one client says how fast that is.
    double commitRate = Ceilings.businessOnly(ctx, 1);
    double seconds = ctx.options().duration().toNanos() / 1e9;
    int records = (int) Math.max(MIN_RECORDS, Math.min(MAX_RECORDS, commitRate * seconds * 0.8));
    for (int percent : ctx.options().duplicatePercents()) {
      String topic = ctx.env().newTopic("w4-" + percent);
      long distinct = publish(ctx, topic, records, percent / 100.0);
      double idempotent;
      double plain;
      if (ctx.run() % 2 == 0) {
        plain = plainConsumer(ctx, topic, records);
        idempotent = idempotentConsumer(ctx, topic, records, distinct);
      } else {
        idempotent = idempotentConsumer(ctx, topic, records, distinct);
        plain = plainConsumer(ctx, topic, records);
      }
      String dup = percent + "% duplicates";
      ctx.add(Workload.W4, "idempotent." + percent, "KafkaIdempotentConsumer + ledger, " + dup, "deliveries/s", idempotent, null);
      ctx.add(Workload.W4, "plain." + percent, "plain consumer, no ledger, " + dup, "deliveries/s", plain, null);
      ctx.add(
          Workload.W4,
          "idempotent_vs_plain." + percent,
          "idempotent consumer ÷ the same consumer without the ledger, " + dup,
          Figure.RATIO,
          idempotent / plain,
          Goal.atLeast(0.8));
    }
  }

  /**
   * Publishes {@code records} deliveries, about {@code share} of them repeats of a recent one.
   *
   * @return how many distinct events were published
   */
  private static long publish(RunContext ctx, String topic, int records, double share) {
    SplittableRandom random = new SplittableRandom(ctx.run() * 31L + Math.round(share * 1000));
    List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(records);
    for (int i = 0; i < records; i++) {
      if (i > 0 && random.nextDouble() < share) {
        // a repeat of one of the last 1,000 records: same event id, key and payload
        out.add(out.get(i - 1 - random.nextInt(Math.min(i, 1000))));
      } else {
        long orderId = BenchEvents.orderId(4, i);
        out.add(BenchEvents.record(topic, BenchEvents.newId(), orderId, BenchEvents.payload(PAYLOAD, i)));
      }
    }
    try (RawPublisher raw = new RawPublisher(ctx.env().kafka().bootstrapServers())) {
      raw.send(out);
    }
    return out.stream().distinct().count();
  }

  private static double idempotentConsumer(RunContext ctx, String topic, int records, long distinctEvents) {
    BenchEnvironment env = ctx.env();
    HikariDataSource pool = env.freshSchema("w4_idem", 4);
    try {
      env.checkpoint();
      IdempotentProcessor processor =
          IdempotentProcessor.builder(
                  "bench-idem-" + ctx.run() + "-" + topic.hashCode() % 1000,
                  pool,
                  (event, connection) -> BenchEvents.insertEffect(connection, event.id(), 1))
              .build();
      KafkaIdempotentConsumer consumer =
          KafkaIdempotentConsumer.builder()
              .bootstrapServers(env.kafka().bootstrapServers())
              .groupId("bench-idem-" + topic)
              .topics(topic)
              .processor(processor)
              .build();
      consumer.start();
      try {
        long first = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.max(120, records / 50));
        while (consumer.recordsAcknowledged() < records) {
          if (first == 0 && consumer.recordsSeen() > 0) {
            first = System.nanoTime();
          }
          if (System.nanoTime() - deadline > 0 || !consumer.isRunning()) {
            throw new IllegalStateException(
                "W4: the idempotent consumer acknowledged "
                    + consumer.recordsAcknowledged()
                    + " of "
                    + records
                    + " records ("
                    + consumer.state()
                    + ")");
          }
          Thread.onSpinWait();
          java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
        long last = System.nanoTime();
        consumer.close();
        // No loss and no double effect: one effect per distinct event, however often delivered.
        long effects = BenchEnvironment.count(pool, "SELECT count(*) FROM bench_effects");
        long distinct = BenchEnvironment.count(pool, "SELECT count(DISTINCT event_id) FROM bench_effects");
        if (effects != distinct || effects != distinctEvents) {
          throw new IllegalStateException(
              "W4: the idempotent consumer left " + effects + " effects for " + distinct
                  + " distinct events; " + distinctEvents + " were published");
        }
        return (records - 1) / ((last - first) / 1e9);
      } finally {
        consumer.close();
      }
    } finally {
      env.discard(pool);
    }
  }

  /**
   * The same consumer without the ledger: Kafka's settings as {@link KafkaIdempotentConsumer}'s
   * defaults, one transaction per record applying the same effect, offsets committed after each
   * poll.
   */
  private static double plainConsumer(RunContext ctx, String topic, int records) {
    BenchEnvironment env = ctx.env();
    HikariDataSource pool = env.freshSchema("w4_plain", 4);
    Map<String, Object> config = new HashMap<>();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env.kafka().bootstrapServers());
    config.put(ConsumerConfig.GROUP_ID_CONFIG, "bench-plain-" + topic);
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 100);
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      env.checkpoint();
      consumer.subscribe(List.of(topic));
      long first = 0;
      long done = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.max(120, records / 50));
      Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
      while (done < records) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("W4: the plain consumer handled " + done + " of " + records + " records");
        }
        ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(200));
        offsets.clear();
        for (ConsumerRecord<byte[], byte[]> r : polled) {
          if (first == 0) {
            first = System.nanoTime();
          }
          UUID eventId = eventId(r);
          try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            BenchEvents.insertEffect(c, eventId, 1);
            c.commit();
          } catch (SQLException e) {
            throw new IllegalStateException("W4: the plain consumer's transaction failed: " + e.getMessage(), e);
          }
          offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
          done++;
        }
        if (!offsets.isEmpty()) {
          consumer.commitSync(offsets, Duration.ofSeconds(15));
        }
      }
      long last = System.nanoTime();
      return (records - 1) / ((last - first) / 1e9);
    } finally {
      env.discard(pool);
    }
  }

  private static UUID eventId(ConsumerRecord<byte[], byte[]> r) {
    Header h = r.headers().lastHeader(KafkaHeaders.EVENT_ID);
    if (h == null) {
      throw new IllegalStateException("W4: a record without an event id at " + r.topic() + "-" + r.partition() + "@" + r.offset());
    }
    return UUID.fromString(new String(h.value(), StandardCharsets.UTF_8));
  }
}
