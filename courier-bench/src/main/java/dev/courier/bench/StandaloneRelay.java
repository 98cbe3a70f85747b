package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.relay.Relay;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * W2: the standalone {@code courier relay} (the deployable server, in a process of its own, at its
 * default settings but {@code --claim-mode log}) against the in-process {@link Relay} in log mode,
 * on the same backlog, both timed the same way: by the records the broker holds, polled every
 * {@value #POLL_MS} ms through the admin API, from the first record of the backlog to the last (so
 * the child JVM's start is not counted against it, and the in-process relay is timed by the same
 * clock). The backlog holds a warm-up share before the timed rows, half as many
 * as are timed unless {@value #WARM_UP_PROPERTY} says otherwise, drained untimed: a relay process that has just started runs interpreted code and compiles
 * while it drains, and the in-process relay had earlier drains to warm up. Needs the server's runtime classpath, which {@code scripts/bench.sh} passes as the system
 * property {@value #CLASSPATH_PROPERTY}; without it the comparison is skipped with a message.
 */
final class StandaloneRelay {
  private static final Logger log = LoggerFactory.getLogger(StandaloneRelay.class);
  static final String CLASSPATH_PROPERTY = "courier.bench.server-classpath";
  private static final int POLL_MS = 10;
  /**
   * Rows drained before the timing starts, as a share of the timed backlog: 0.5, or the system
   * property {@value #WARM_UP_PROPERTY} (for example through {@code COURIER_BENCH_OPTS}).
   */
  static final String WARM_UP_PROPERTY = "courier.bench.standalone-warm-up";

  private static double warmUpShare() {
    String v = System.getProperty(WARM_UP_PROPERTY, "0.5");
    double share = Double.parseDouble(v);
    if (!(share >= 0) || share > 20) {
      throw new IllegalArgumentException(WARM_UP_PROPERTY + " must be a share from 0 to 20, was " + v);
    }
    return share;
  }

  private StandaloneRelay() {}

  /** The server's runtime classpath, or {@code null} when the benchmark was not given it. */
  static String serverClasspath() {
    String cp = System.getProperty(CLASSPATH_PROPERTY);
    return cp == null || cp.isBlank() ? null : cp;
  }

  static void run(RunContext ctx, int payloadSize) {
    String cp = serverClasspath();
    if (cp == null) {
      log.warn(
          "W2: the standalone relay is not compared (no -D{}: run the benchmark through ./courier bench, which builds the server and passes it)",
          CLASSPATH_PROPERTY);
      return;
    }
    String sz = payloadSize + " B";
    double inProcess = measure(ctx, payloadSize, null);
    double standalone = measure(ctx, payloadSize, cp);
    ctx.add(Workload.W2, "drain_log_standalone." + payloadSize, "standalone `courier relay --claim-mode log`, timed at the broker, " + sz, "events/s", standalone, null);
    ctx.add(Workload.W2, "drain_log_inprocess_broker." + payloadSize, "in-process relay in log mode, timed at the broker the same way, " + sz, "events/s", inProcess, null);
    ctx.add(
        Workload.W2,
        "drain_log_standalone_vs_inprocess." + payloadSize,
        "standalone relay ÷ in-process relay, log mode (goal: within ±10%), " + sz,
        Figure.RATIO,
        standalone / inProcess,
        Goal.atLeast(0.9));
  }

  /** The drain of a fresh log-mode backlog by the standalone relay ({@code classpath}) or, if null, by one in this JVM. */
  private static double measure(RunContext ctx, int payloadSize, String classpath) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().backlog();
    int warmUp = (int) (n * warmUpShare());
    String topic = env.newTopic("w2-standalone-" + payloadSize);
    PGSimpleDataSource plain = env.database().freshSchema("bench_w2_standalone");
    HikariDataSource pool = BenchEnvironment.pooled(plain, "w2s", 8);
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, env.kafka().bootstrapServers()))) {
      Schema.enableLogMode(pool, CourierTables.DEFAULT);
      RelayDrain.fill(pool, topic, warmUp + n, payloadSize);
      BenchEnvironment.vacuumAnalyze(pool, "courier_outbox");
      env.checkpoint();
      // the probe records of a new topic (see BenchEnvironment#newTopic)
      long before = records(admin, topic);
      if (classpath == null) {
        try (KafkaTransport transport = KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build()) {
          Relay relay = Relay.builder(pool, transport).claimMode(Relay.ClaimMode.LOG).build();
          relay.start();
          try {
            return observe(admin, topic, before + warmUp, n);
          } finally {
            relay.close();
          }
        }
      }
      Process child = start(classpath, plain, env.kafka().bootstrapServers());
      try {
        return observe(admin, topic, before + warmUp, n);
      } finally {
        child.destroy();
        if (!child.waitFor(60, TimeUnit.SECONDS)) {
          child.destroyForcibly();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while timing the standalone relay", e);
    } finally {
      pool.close();
      env.database().dropSchema(plain);
    }
  }

  private static Process start(String classpath, PGSimpleDataSource db, String bootstrap) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-cp");
    cmd.add(classpath);
    cmd.add("dev.courier.server.CourierCli");
    cmd.add("relay");
    cmd.add("--db-url");
    cmd.add(db.getUrl());
    cmd.add("--kafka-bootstrap-servers");
    cmd.add(bootstrap);
    cmd.add("--claim-mode");
    cmd.add("log");
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("COURIER_HTTP_ENABLED", "false");
    if (db.getUser() != null) {
      pb.environment().put("COURIER_DB_USER", db.getUser());
    }
    if (db.getPassword() != null) {
      pb.environment().put("COURIER_DB_PASSWORD", db.getPassword());
    }
    try {
      File out = Files.createTempFile("courier-bench-relay", ".log").toFile();
      pb.redirectErrorStream(true).redirectOutput(out);
      log.info("W2: standalone relay's output in {}", out);
      return pb.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the standalone relay: " + e.getMessage(), e);
    }
  }

  /**
   * Polls the topic's end offsets until it holds {@code n} records past {@code before} (the probe
   * records and the warm-up rows); the rate from the first poll that saw any of them to the one
   * that saw them all.
   */
  private static double observe(Admin admin, String topic, long before, int n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(Math.max(300, n / 200)).toNanos();
    long firstAt = 0;
    long atFirst = 0;
    while (true) {
      long now = System.nanoTime();
      long held = records(admin, topic) - before;
      if (held > 0 && firstAt == 0) {
        firstAt = now;
        atFirst = held;
      }
      if (held >= n) {
        if (held == atFirst) {
          throw new IllegalStateException("W2: the whole backlog arrived between two polls; use a larger --backlog");
        }
        return (held - atFirst) / ((now - firstAt) / 1e9);
      }
      if (now - deadline > 0) {
        throw new IllegalStateException("W2: the topic holds " + held + " of " + n + " records at the deadline");
      }
      Thread.sleep(POLL_MS);
    }
  }

  private static long records(Admin admin, String topic) {
    try {
      Map<TopicPartition, OffsetSpec> request = new java.util.HashMap<>();
      for (int p = 0; p < BenchEnvironment.PARTITIONS; p++) {
        request.put(new TopicPartition(topic, p), OffsetSpec.latest());
      }
      long sum = 0;
      for (ListOffsetsResult.ListOffsetsResultInfo info : admin.listOffsets(request).all().get(30, TimeUnit.SECONDS).values()) {
        sum += info.offset();
      }
      return sum;
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot read the end offsets of " + topic + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
