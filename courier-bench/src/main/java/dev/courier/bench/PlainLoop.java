package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaHeaders;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The W2 backlog drained without Courier: the loop a team writes by hand when it needs an outbox
 * and nothing more. One thread, one transaction per claim: lock the next {@code claim} rows in
 * {@code seq} order ({@code FOR UPDATE SKIP LOCKED}), publish them with a plain producer ({@code
 * acks=all}, idempotent) and wait for every acknowledgement, delete them, commit without waiting
 * for the WAL flush (as Courier's marks do). No retries, no per-key hold-back of late commits or
 * failed rows, no dead rows, no history, no metrics: a reference for what the database and the
 * broker cost when nothing else is done, not something to run in production.
 *
 * <p>A reference runs at its own best settings, not at Courier's: the claim size and the producer's
 * {@code linger.ms} are swept ({@link #SWEEP}) and the fastest drain of the run is "the loop"; its
 * producer's {@code batch.size} is the Kafka ceiling's, measured in the same run.
 */
final class PlainLoop {
  private static final Logger log = LoggerFactory.getLogger(PlainLoop.class);

  /**
   * One setting of the loop.
   *
   * @param claim rows claimed, published and deleted per transaction
   * @param lingerMs the producer's {@code linger.ms}
   */
  record Setting(int claim, int lingerMs) {
    String label() {
      return String.format(java.util.Locale.ROOT, "claim %,d, linger.ms=%d", claim, lingerMs);
    }

    String id() {
      return "c" + claim + ".l" + lingerMs;
    }
  }

  /** The settings the loop runs at; the fastest in each run is the reference. */
  static final List<Setting> SWEEP =
      List.of(
          new Setting(256, 1),
          new Setting(256, 5),
          new Setting(1_000, 1),
          new Setting(1_000, 5),
          new Setting(2_000, 1),
          new Setting(2_000, 5),
          new Setting(5_000, 1),
          new Setting(5_000, 5));

  /** The one setting run with {@code --no-sweep}: the sweep's usual winner on this machine. */
  static final Setting UNSWEPT = new Setting(2_000, 1);

  /**
   * One drain of the sweep.
   *
   * @param drain its rate and CPU
   * @param setting the setting it ran at
   */
  record Point(RelayDrain.Drain drain, Setting setting) {}

  /**
   * The sweep's outcome.
   *
   * @param best the fastest drain, "the loop"
   * @param points every drain, in the order run (one without a sweep)
   */
  record Best(Point best, List<Point> points) {
    RelayDrain.Drain drain() {
      return best.drain();
    }

    Setting setting() {
      return best.setting();
    }
  }

  private PlainLoop() {}

  /**
   * The loop at every setting of the sweep (or at {@link #UNSWEPT}), each on a fresh copy of the W2
   * backlog. Measured once per run.
   */
  static Best best(RunContext ctx, int payloadSize) {
    return ctx.shared(
        "plain_loop." + payloadSize,
        () -> {
          List<Setting> settings = ctx.options().sweep() ? SWEEP : List.of(UNSWEPT);
          int batchBytes = Ceilings.kafka(ctx, payloadSize).tuning().batchBytes();
          List<Point> points = new ArrayList<>();
          Point best = null;
          for (Setting s : settings) {
            Point p = new Point(drain(ctx, payloadSize, s, batchBytes), s);
            points.add(p);
            if (best == null || p.drain().eventsPerSecond() > best.drain().eventsPerSecond()) {
              best = p;
            }
          }
          return new Best(best, List.copyOf(points));
        });
  }

  /** Fills a fresh schema with the W2 backlog and times the loop's drain of it. */
  static RelayDrain.Drain drain(RunContext ctx, int payloadSize, Setting setting, int batchBytes) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    String topic = env.newTopic("w2-plain-" + payloadSize);
    HikariDataSource pool = env.freshSchema("w2_plain", 2);
    try (RawPublisher producer =
        new RawPublisher(env.kafka().bootstrapServers(), new RawPublisher.Tuning(batchBytes, setting.lingerMs()))) {
      RelayDrain.fill(pool, topic, n, payloadSize);
      BenchEnvironment.vacuumAnalyze(pool, "courier_outbox");
      env.checkpoint();
      // connection, metadata and producer id first, untimed, as for the relay and the ceiling
      producer.send(Ceilings.records(topic, Ceilings.RELAY_BATCH, payloadSize, -2));
      CpuMeter cpu = CpuMeter.start(env.kafka().pid());
      long start = System.nanoTime();
      long drained = loop(pool, producer, topic, setting.claim());
      long took = System.nanoTime() - start;
      CpuMeter.Usage used = cpu.stop();
      long left = BenchEnvironment.count(pool, "SELECT count(*) FROM courier_outbox");
      if (drained != n || left != 0) {
        throw new IllegalStateException(
            "W2 plain loop: published " + drained + " of " + n + " rows, " + left + " left");
      }
      log.info(
          "W2 plain loop ({}) drained {} rows of {} B in {} ms", setting.label(), n, payloadSize, took / 1_000_000);
      return new RelayDrain.Drain(n / (took / 1e9), used);
    } finally {
      env.discard(pool);
    }
  }

  private static long loop(HikariDataSource pool, RawPublisher producer, String topic, int claim) {
    long published = 0;
    try (Connection c = pool.getConnection();
        Statement relaxed = c.createStatement();
        PreparedStatement select =
            c.prepareStatement(
                "SELECT seq, event_id, event_type, event_key, payload, correlation_id, created_at"
                    + " FROM courier_outbox ORDER BY seq LIMIT "
                    + claim
                    + " FOR UPDATE SKIP LOCKED");
        PreparedStatement delete = c.prepareStatement("DELETE FROM courier_outbox WHERE seq = ANY(?)")) {
      c.setAutoCommit(false);
      while (true) {
        relaxed.execute("SET LOCAL synchronous_commit = off");
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(claim);
        List<Long> seqs = new ArrayList<>(claim);
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            seqs.add(rs.getLong(1));
            RecordHeaders headers = new RecordHeaders();
            headers.add(KafkaHeaders.EVENT_ID, utf8(rs.getString(2)));
            headers.add(KafkaHeaders.EVENT_TYPE, utf8(rs.getString(3)));
            headers.add(KafkaHeaders.CORRELATION_ID, utf8(rs.getString(6)));
            headers.add(KafkaHeaders.CREATED_AT, utf8(rs.getTimestamp(7).toInstant().toString()));
            records.add(
                new ProducerRecord<>(topic, null, null, utf8(rs.getString(4)), rs.getBytes(5), headers));
          }
        }
        if (seqs.isEmpty()) {
          c.commit();
          return published;
        }
        // every acknowledgement of the claim, before its rows are deleted
        producer.publishInBatches(records, records.size());
        delete.setArray(1, c.createArrayOf("bigint", seqs.toArray(Long[]::new)));
        delete.executeUpdate();
        c.commit();
        published += seqs.size();
      }
    } catch (SQLException e) {
      throw new IllegalStateException("W2 plain loop failed: " + e.getMessage(), e);
    }
  }

  private static byte[] utf8(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }
}
