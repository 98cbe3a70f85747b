package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * W0: the physical ceilings every other figure is divided by. Each is measured at most once per run
 * and shared by the workloads that need it.
 *
 * <p>The Kafka ceiling is the fastest confirmed publish this broker takes: a plain producer with the
 * transport's delivery settings ({@code acks=all}, idempotent, 5 requests in flight, no
 * compression) sends the W2 backlog's records without waiting (again and again for at least {@link
 * #MAX_CEILING_TIME}), then waits for every acknowledgement. Its batching is swept ({@link #SWEEP})
 * and the fastest setting of the run is the ceiling.
 */
final class Ceilings {
  /** The batch the relay publishes per pass by default: the context figure's awaited batch. */
  static final int RELAY_BATCH = 256;

  /** The producer settings the ceiling is measured at; the fastest in each run is the ceiling. */
  static final List<RawPublisher.Tuning> SWEEP =
      List.of(
          new RawPublisher.Tuning(16_384, 1),
          new RawPublisher.Tuning(16_384, 5),
          new RawPublisher.Tuning(65_536, 1),
          new RawPublisher.Tuning(65_536, 5),
          new RawPublisher.Tuning(262_144, 1),
          new RawPublisher.Tuning(262_144, 5),
          new RawPublisher.Tuning(524_288, 1),
          new RawPublisher.Tuning(524_288, 5));

  /**
   * The least time each setting of the ceiling publishes for (a fifth of {@code --duration}, at most
   * this): the backlog's records are sent again, pass after pass, until it has passed, so that a
   * fast setting is not timed over a fraction of a second.
   */
  static final Duration MAX_CEILING_TIME = Duration.ofSeconds(2);

  /** The one setting measured with {@code --no-sweep}: the sweep's usual winner on this machine. */
  static final RawPublisher.Tuning UNSWEPT = new RawPublisher.Tuning(262_144, 5);

  private Ceilings() {}

  /**
   * A Kafka publish measurement.
   *
   * @param eventsPerSecond records confirmed per second
   * @param cpu CPU used while publishing
   * @param records how many records
   * @param tuning the producer's batching
   */
  record Publish(double eventsPerSecond, CpuMeter.Usage cpu, int records, RawPublisher.Tuning tuning) {}

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
      kafka(ctx, size);
      Publish awaited = kafkaAwaited(ctx, size);
      ctx.add(
          Workload.W0,
          "kafka.awaited." + size,
          "Kafka confirmed publish, "
              + size
              + " B, batches of "
              + RELAY_BATCH
              + " each awaited, the transport's "
              + RawPublisher.Tuning.TRANSPORT.label()
              + " (context: not a ceiling)",
          "events/s",
          awaited.eventsPerSecond(),
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

  /**
   * The Kafka ceiling for {@code payloadSize}: the W2 backlog's records published fully pipelined
   * ({@link RawPublisher#publishPipelined(List, Duration)}) at every setting of the sweep (or at {@link #UNSWEPT}), the fastest kept. Each setting's rate is a
   * W0 figure of its own; measured once per run, when W0 or W2 first asks for it.
   */
  static Publish kafka(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "kafka.pipelined." + payloadSize,
        () -> {
          List<RawPublisher.Tuning> settings = ctx.options().sweep() ? SWEEP : List.of(UNSWEPT);
          String topic = ctx.env().newTopic("w0-" + payloadSize);
          List<Publish> points = new ArrayList<>();
          Publish best = null;
          for (RawPublisher.Tuning t : settings) {
            Publish p = publish(ctx, topic, payloadSize, t, true);
            points.add(p);
            if (best == null || p.eventsPerSecond() > best.eventsPerSecond()) {
              best = p;
            }
          }
          ctx.add(
              Workload.W0,
              "kafka.ceiling." + payloadSize,
              "Kafka ceiling: confirmed publish, fully pipelined, "
                  + payloadSize
                  + " B, "
                  + (settings.size() > 1 ? "the fastest setting of the sweep" : UNSWEPT.label()),
              "events/s",
              best.eventsPerSecond(),
              null);
          if (settings.size() > 1) {
            ctx.add(
                Workload.W0,
                "kafka.ceiling.batch_kib." + payloadSize,
                "the ceiling's batch.size, " + payloadSize + " B",
                "KiB",
                best.tuning().batchBytes() / 1024.0,
                null);
            ctx.add(
                Workload.W0,
                "kafka.ceiling.linger_ms." + payloadSize,
                "the ceiling's linger.ms, " + payloadSize + " B",
                "ms",
                best.tuning().lingerMs(),
                null);
            for (Publish p : points) {
              ctx.add(
                  Workload.W0,
                  "kafka.sweep." + p.tuning().id() + "." + payloadSize,
                  "sweep point: fully pipelined, " + payloadSize + " B, " + p.tuning().label(),
                  "events/s",
                  p.eventsPerSecond(),
                  null);
            }
          }
          return best;
        });
  }

  /** The backlog's records in awaited batches of {@value #RELAY_BATCH}, as the relay publishes: context. */
  static Publish kafkaAwaited(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "kafka.awaited." + payloadSize,
        () -> publish(ctx, ctx.env().newTopic("w0-awaited-" + payloadSize), payloadSize, RawPublisher.Tuning.TRANSPORT, false));
  }

  private static Publish publish(RunContext ctx, String topic, int payloadSize, RawPublisher.Tuning tuning, boolean pipelined) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    List<ProducerRecord<byte[], byte[]>> records = records(topic, n, payloadSize, ctx.run());
    Duration atLeast = ctx.options().duration().dividedBy(5);
    if (atLeast.compareTo(MAX_CEILING_TIME) > 0) {
      atLeast = MAX_CEILING_TIME;
    }
    try (RawPublisher raw = new RawPublisher(env.kafka().bootstrapServers(), tuning)) {
      // Metadata, the producer id and the connection come first, untimed, as for the relay.
      raw.send(records(topic, RELAY_BATCH, payloadSize, -1));
      CpuMeter cpu = CpuMeter.start(env.kafka().pid());
      RawPublisher.Published p =
          pipelined
              ? raw.publishPipelined(records, atLeast)
              : new RawPublisher.Published(n, raw.publishInBatches(records, RELAY_BATCH));
      CpuMeter.Usage used = cpu.stop();
      return new Publish(p.perSecond(), used, (int) p.records(), tuning);
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
