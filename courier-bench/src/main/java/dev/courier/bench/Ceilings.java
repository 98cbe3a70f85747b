package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * W0: the physical ceilings every other figure is divided by. Each is measured at most once per run
 * and shared by the workloads that need it.
 */
final class Ceilings {
  /** The batch the relay publishes per pass by default, and so the ceiling's batch. */
  static final int RELAY_BATCH = 256;

  /** Kafka's own default {@code linger.ms}, which the transport used before: a context ceiling. */
  static final int KAFKA_DEFAULT_LINGER_MS = 5;

  private Ceilings() {}

  /**
   * A Kafka ceiling measurement.
   *
   * @param eventsPerSecond records confirmed per second
   * @param cpu CPU used while publishing
   * @param records how many records
   */
  record Publish(double eventsPerSecond, CpuMeter.Usage cpu, int records) {}

  /** Client counts W0 always measures beside {@code --clients}: the issue asks for 1 to 16. */
  static final List<Integer> CEILING_CLIENTS = List.of(4, 16);

  /** {@code --clients} and {@link #CEILING_CLIENTS}, each once, in increasing order. */
  static List<Integer> ceilingClients(BenchOptions o) {
    return java.util.stream.Stream.concat(o.clients().stream(), CEILING_CLIENTS.stream()).distinct().sorted().toList();
  }

  static void run(RunContext ctx) {
    BenchOptions o = ctx.options();
    for (int clients : ceilingClients(o)) {
      double tps = businessOnly(ctx, clients);
      ctx.add(
          Workload.W0,
          "pg.commit." + clients + "c",
          "PostgreSQL commits/s, business row only, " + clients + " client(s)",
          "tx/s",
          tps,
          null);
    }
    for (int size : o.payloadSizes()) {
      Publish batched = kafkaBatched(ctx, size);
      ctx.add(
          Workload.W0,
          "kafka.batched." + size,
          "Kafka confirmed publish, " + size + " B, batches of " + RELAY_BATCH + " awaited",
          "events/s",
          batched.eventsPerSecond(),
          null);
      Publish lingering = kafkaBatchedLingering(ctx, size);
      ctx.add(
          Workload.W0,
          "kafka.batched.linger5." + size,
          "Kafka confirmed publish, "
              + size
              + " B, batches of "
              + RELAY_BATCH
              + " awaited, linger.ms="
              + KAFKA_DEFAULT_LINGER_MS
              + " (context)",
          "events/s",
          lingering.eventsPerSecond(),
          null);
      Publish pipelined = kafkaPipelined(ctx, size);
      ctx.add(
          Workload.W0,
          "kafka.pipelined." + size,
          "Kafka confirmed publish, " + size + " B, fully pipelined (context)",
          "events/s",
          pipelined.eventsPerSecond(),
          null);
    }
  }

  /** Business-row-only commits per second at {@code clients} writers; also W1's "no outbox" baseline. */
  static double businessOnly(RunContext ctx, int clients) {
    return ctx.shared(
        "pg.business." + clients,
        () -> {
          BenchEnvironment env = ctx.env();
          HikariDataSource pool = env.freshSchema("w0_pg", clients + 2);
          try {
            env.checkpoint();
            return ClosedLoop.commitsPerSecond(
                pool,
                clients,
                ctx.options().warmup(),
                ctx.options().duration(),
                (c, client, seq) -> BenchEvents.insertOrder(c, BenchEvents.orderId(client, seq)));
          } finally {
            env.discard(pool);
          }
        });
  }

  /** The W2 denominator: the backlog's records published in relay-sized batches. */
  static Publish kafkaBatched(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "kafka.batched." + payloadSize,
        () -> publish(ctx, payloadSize, true, KafkaTransport.DEFAULT_LINGER_MS));
  }

  /** The same with Kafka's default linger, the ceiling the first report divided by. */
  static Publish kafkaBatchedLingering(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "kafka.batched.linger." + payloadSize,
        () -> publish(ctx, payloadSize, true, KAFKA_DEFAULT_LINGER_MS));
  }

  static Publish kafkaPipelined(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "kafka.pipelined." + payloadSize,
        () -> publish(ctx, payloadSize, false, KafkaTransport.DEFAULT_LINGER_MS));
  }

  private static Publish publish(RunContext ctx, int payloadSize, boolean batched, int lingerMs) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("w0-" + payloadSize);
    int n = ctx.options().backlog();
    List<ProducerRecord<byte[], byte[]>> records = records(topic, n, payloadSize, ctx.run());
    try (RawPublisher raw = new RawPublisher(env.kafka().bootstrapServers(), lingerMs)) {
      // Metadata, the producer id and the connection come first, untimed, as for the relay.
      raw.send(records(topic, RELAY_BATCH, payloadSize, -1));
      CpuMeter cpu = CpuMeter.start(env.kafka().pid());
      Duration took = batched ? raw.publishInBatches(records, RELAY_BATCH) : raw.publishPipelined(records);
      CpuMeter.Usage used = cpu.stop();
      return new Publish(n / (took.toNanos() / 1e9), used, n);
    }
  }

  static List<ProducerRecord<byte[], byte[]>> records(String topic, int n, int payloadSize, long seed) {
    List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long orderId = BenchEvents.orderId(0, i);
      out.add(BenchEvents.record(topic, BenchEvents.newId(), orderId, BenchEvents.payload(payloadSize, seed * 1_000_003L + i)));
    }
    return out;
  }
}
