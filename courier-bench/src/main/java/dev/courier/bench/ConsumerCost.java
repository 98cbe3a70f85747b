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
 * W4: what the processed-events ledger costs a consumer. A topic holding a share of duplicate
 * deliveries (a record published again with the same event id, as a relay retry does) is consumed
 * from the start by an idempotent consumer and by a plain one, in two pairs:
 *
 * <ul>
 *   <li><b>one at a time</b>: {@link KafkaIdempotentConsumer} with an {@link IdempotentProcessor}
 *       at its defaults (one transaction per record: ledger row and effect row), against a plain
 *       Kafka consumer of the same shape (one transaction per record inserting the same effect row,
 *       offsets committed synchronously after each poll), with no ledger: duplicates are simply
 *       applied again;
 *   <li><b>batched</b>: the same consumer with {@link IdempotentProcessor.Builder#applyInBatches}
 *       ({@value #BATCH} events; one transaction per partition's records of a poll), against the
 *       plain consumer at its best: one transaction per poll holding every record's effect row. The
 *       goal is judged on this pair.
 * </ul>
 *
 * <p>Throughput is deliveries per second, from the first record handled to the last one committed.
 */
final class ConsumerCost {
  static final int PAYLOAD = 256;
  /** The idempotent consumer's batch: Kafka's {@code max.poll.records} as the consumer sets it. */
  static final int BATCH = 100;
  private static final int MIN_RECORDS = 300;
  private static final int MAX_RECORDS = 200_000;
  /** How much longer the batched pair's topic is: batches go about ten times as fast. */
  private static final int BATCHED_RECORDS_FACTOR = 10;

  private ConsumerCost() {}

  static void run(RunContext ctx) {
    // Size the topic so that a consumer committing one transaction per record takes about
    // --duration: the business-only commit rate at one client says how fast that is.
    double commitRate = Ceilings.businessOnly(ctx, 1);
    double seconds = ctx.options().duration().toNanos() / 1e9;
    int records = (int) Math.max(MIN_RECORDS, Math.min(MAX_RECORDS, commitRate * seconds * 0.8));
    int batchedRecords = Math.min(MAX_RECORDS, records * BATCHED_RECORDS_FACTOR);
    for (int percent : ctx.options().duplicatePercents()) {
      String dup = percent + "% duplicates";
      double[] single = pair(ctx, "w4-" + percent, records, percent, false);
      ctx.add(Workload.W4, "idempotent." + percent, "KafkaIdempotentConsumer + ledger, one transaction per record, " + dup, "deliveries/s", single[0], null);
      ctx.add(Workload.W4, "plain." + percent, "plain consumer, no ledger, one transaction per record, " + dup, "deliveries/s", single[1], null);
      ctx.add(
          Workload.W4,
          "idempotent_vs_plain." + percent,
          "one transaction per record: idempotent consumer ÷ the same consumer without the ledger, " + dup,
          Figure.RATIO,
          single[0] / single[1],
          Goal.atLeast(0.8));
      double[] batched = pair(ctx, "w4b-" + percent, batchedRecords, percent, true);
      ctx.add(Workload.W4, "idempotent_batched." + percent, "KafkaIdempotentConsumer + ledger, applyInBatches(" + BATCH + "), " + dup, "deliveries/s", batched[0], null);
      ctx.add(Workload.W4, "plain_batched." + percent, "plain consumer, no ledger, one transaction per poll, " + dup, "deliveries/s", batched[1], null);
      ctx.add(
          Workload.W4,
          "idempotent_batched_vs_plain_batched." + percent,
          "batched idempotent consumer ÷ the plain consumer committing once per poll, " + dup,
          Figure.RATIO,
          batched[0] / batched[1],
          Goal.atLeast(0.9));
    }
  }

  /**
   * Publishes a topic and consumes it with both consumers, in an order that alternates with the
   * run; returns {idempotent, plain} in deliveries per second.
   */
  private static double[] pair(RunContext ctx, String name, int records, int percent, boolean batched) {
    String topic = ctx.env().newTopic(name);
    long distinct = publish(ctx, topic, records, percent / 100.0);
    double idempotent;
    double plain;
    if (ctx.run() % 2 == 0) {
      plain = plainConsumer(ctx, topic, records, batched);
      idempotent = idempotentConsumer(ctx, topic, records, distinct, batched);
    } else {
      idempotent = idempotentConsumer(ctx, topic, records, distinct, batched);
      plain = plainConsumer(ctx, topic, records, batched);
    }
    return new double[] {idempotent, plain};
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

  private static double idempotentConsumer(
      RunContext ctx, String topic, int records, long distinctEvents, boolean batched) {
    BenchEnvironment env = ctx.env();
    HikariDataSource pool = env.freshSchema("w4_idem", 4);
    try {
      env.checkpoint();
      IdempotentProcessor processor =
          IdempotentProcessor.builder(
                  "bench-idem-" + ctx.run() + "-" + topic.hashCode() % 1000,
                  pool,
                  (event, connection) -> BenchEvents.insertEffect(connection, event.id(), 1))
              .applyInBatches(batched ? BATCH : 1)
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
   * defaults, the same effect statement per record, offsets committed after each poll; one
   * transaction per record, or ({@code batched}) one per poll.
   */
  private static double plainConsumer(RunContext ctx, String topic, int records, boolean batched) {
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
        if (polled.isEmpty()) {
          continue;
        }
        offsets.clear();
        if (first == 0) {
          first = System.nanoTime();
        }
        try {
          if (batched) {
            try (Connection c = pool.getConnection()) {
              c.setAutoCommit(false);
              for (ConsumerRecord<byte[], byte[]> r : polled) {
                BenchEvents.insertEffect(c, eventId(r), 1);
              }
              c.commit();
            }
          } else {
            for (ConsumerRecord<byte[], byte[]> r : polled) {
              try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                BenchEvents.insertEffect(c, eventId(r), 1);
                c.commit();
              }
            }
          }
        } catch (SQLException e) {
          throw new IllegalStateException("W4: the plain consumer's transaction failed: " + e.getMessage(), e);
        }
        for (ConsumerRecord<byte[], byte[]> r : polled) {
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
