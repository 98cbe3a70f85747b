package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.admin.Attribution;
import dev.courier.admin.Retention;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The soak of W5: the whole W3 path (business row + {@link Outbox#append}, woken {@link Relay},
 * {@link KafkaTransport}, {@link IdempotentProcessor}) at a constant rate for an hour, with {@link
 * Retention} pruning every minute as a deployment would, reported per window: commit → committed
 * effect p50 / p99 / p99.9 (open loop, coordinated omission corrected, as W3), and the state of
 * Courier's tables at the window's end (live and dead tuples, table and index sizes, autovacuum
 * runs), read from {@code pg_stat_user_tables} and PostgreSQL's size functions.
 *
 * <p>It runs on the benchmark's own PostgreSQL ({@link BenchEnvironment#logicalPostgres()}), whose
 * autovacuum is on, as in a deployment: the shared server of this machine runs with autovacuum off,
 * and there the dead row versions of the claims and marks would only grow.
 *
 * <p>The retention horizons are scaled to the soak so that its tables reach the steady state a
 * deployment reaches after a week: published rows leave the outbox for the archive after a
 * twelfth of the soak (5 minutes of an hour), and the archive and the ledger keep a quarter of it
 * (15 minutes); {@link Retention.Policy} refuses a horizon below one minute, so a short soak
 * prunes nothing. The goal: p99 of the last window at most 20% above p99 of the first.
 *
 * <p>With {@code --soak-claim-mode log} the relay runs in log mode on an outbox partitioned by the
 * hour ({@link Schema#partitionByTime}): no row is written after its append, and retention drops a
 * partition whole once it ended more than the published horizon ago, so the outbox's dead tuples
 * stay at zero; a 60-minute soak drops at most its first partition.
 */
final class Soak {
  private static final Logger log = LoggerFactory.getLogger(Soak.class);
  private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(2);

  private Soak() {}

  /** The state of one of Courier's tables at a window's end. */
  record TableState(long live, long dead, long tableBytes, long indexBytes, long autovacuums) {}

  /** One window: latency of the effects committed in it, and the tables at its end. */
  record Window(Histogram latency, Map<String, TableState> tables, String loadAverage, long pruned) {}

  static void run(RunContext ctx) {
    BenchOptions.SoakOptions o = ctx.options().soak();
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("soak");
    // the benchmark's own PostgreSQL: autovacuum on, as in a deployment (the shared server may have it off)
    BenchEnvironment.LogicalPostgres postgres = env.logicalPostgres();
    HikariDataSource pool = postgres.freshSchema("soak", 10);
    CourierTables tables = CourierTables.DEFAULT;
    Recorder recorder = new Recorder(HIGHEST_MICROS, 3);
    Histogram whole = new Histogram(HIGHEST_MICROS, 3);
    AtomicLong effects = new AtomicLong();
    AtomicLong recordFrom = new AtomicLong(Long.MAX_VALUE);
    AtomicLong pruned = new AtomicLong();
    List<Window> windows = new ArrayList<>();
    Retention retention = new Retention(pool, tables, Clock.systemUTC());
    Retention.Policy policy = policy(o.duration());
    ScheduledExecutorService pruner = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "soak-retention"));
    long written;
    try (KafkaTransport transport =
        KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build()) {
      if (o.claimMode() == Relay.ClaimMode.LOG) {
        // log mode as the soak asks: retention drops whole hourly partitions
        Schema.enableLogMode(pool, tables);
        Schema.partitionByTime(pool, tables, Duration.ofHours(1));
      }
      Relay relay = Relay.builder(pool, transport).claimMode(o.claimMode()).build();
      Outbox outbox = Outbox.builder().onAppend(relay::wakeup).build();
      IdempotentProcessor processor = EndToEnd.effectProcessor("bench-soak-" + ctx.run(), pool);
      SubscriptionSpec spec =
          SubscriptionSpec.of(topic)
              .withAfterCommit(
                  event -> {
                    long due = BenchEvents.stamp(event.payload());
                    long micros = Math.min(HIGHEST_MICROS, Math.max(0, (System.nanoTime() - due) / 1000));
                    effects.incrementAndGet();
                    if (due - recordFrom.get() >= 0) {
                      recorder.recordValue(micros);
                    }
                  });
      relay.start();
      Subscription subscription = transport.subscribe(spec, processor);
      AtomicBoolean pruneFailed = new AtomicBoolean();
      pruner.scheduleWithFixedDelay(
          () -> {
            try {
              Retention.Result r = retention.prune(policy, false, Attribution.of("bench-soak"));
              pruned.addAndGet(r.outboxRows() + r.ledgerRows() + r.archiveRows());
            } catch (RuntimeException e) {
              // a failed prune is a finding, not a reason to stop measuring: reported at the end
              pruneFailed.set(true);
              log.warn("soak: prune failed: {}", e.toString());
            }
          },
          1,
          1,
          TimeUnit.MINUTES);
      try {
        EndToEnd.awaitFirstDelivery(pool, outbox, topic, effects);
        long periodNanos = Math.round(1e9 / o.rate());
        Duration warmup = Duration.ofMillis(Math.min(60_000, o.duration().toMillis() / 10));
        long warm = warmup.toNanos() / periodNanos;
        long windowNanos = o.window().toNanos();
        int n = o.windows();
        long perWindow = windowNanos / periodNanos;
        long total = warm + perWindow * n;
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        long recordStart = start + warm * periodNanos;
        recordFrom.set(recordStart);
        log.info(
            "soak: {} events/s for {} after a {} warm-up, {} windows of {}",
            o.rate(), o.duration(), warmup, n, o.window());
        try (Connection c = pool.getConnection()) {
          c.setAutoCommit(false);
          for (long i = 0; i < total; i++) {
            long due = start + i * periodNanos;
            // the window boundary: every event due before it has been written
            if (i > warm && (i - warm) % perWindow == 0) {
              windows.add(window(pool, tables, recorder, whole, pruned));
              logWindow(windows.size(), windows.getLast());
            }
            EndToEnd.writeWhenDue(c, outbox, topic, i, due);
          }
        }
        written = total + 1;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (effects.get() < written && System.nanoTime() - deadline < 0) {
          Thread.sleep(5);
        }
        // the last window also holds the effects of its last events, committed after the writer stopped
        windows.add(window(pool, tables, recorder, whole, pruned));
        logWindow(windows.size(), windows.getLast());
        if (effects.get() < written) {
          throw new IllegalStateException(
              "SOAK: only " + effects.get() + " of " + written + " effects committed within 120 s of the last write");
        }
        if (pruneFailed.get()) {
          throw new IllegalStateException("SOAK: a prune failed during the soak; see the log");
        }
      } finally {
        subscription.close();
        relay.close();
      }
      long applied = BenchEnvironment.count(pool, "SELECT count(DISTINCT event_id) FROM bench_effects");
      long effectRows = BenchEnvironment.count(pool, "SELECT count(*) FROM bench_effects");
      if (applied != written || effectRows != written) {
        throw new IllegalStateException(
            "SOAK: " + written + " events written, " + applied + " distinct effects, " + effectRows + " effect rows");
      }
      report(ctx, windows, whole, written);
    } catch (SQLException e) {
      throw new IllegalStateException("SOAK writer failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      pruner.shutdownNow();
      postgres.discard(pool);
    }
  }

  /** Retention horizons scaled to a soak of {@code length}; none below the policy's minimum of 1 minute. */
  static Retention.Policy policy(Duration length) {
    Duration published = atLeastAMinute(length.dividedBy(12));
    Duration kept = atLeastAMinute(length.dividedBy(4));
    return new Retention.Policy(kept, published, kept, true);
  }

  private static Duration atLeastAMinute(Duration d) {
    return d.compareTo(Duration.ofMinutes(1)) < 0 ? Duration.ofMinutes(1) : d;
  }

  private static Window window(
      HikariDataSource pool, CourierTables tables, Recorder recorder, Histogram whole, AtomicLong pruned) {
    Histogram h = recorder.getIntervalHistogram();
    whole.add(h);
    return new Window(h, tableStates(pool, tables), BenchEnvironment.loadAverage(), pruned.get());
  }

  private static void logWindow(int k, Window w) {
    TableState outbox = w.tables().get("outbox");
    log.info(
        "soak window {}: {} effects, p50 {} ms, p99 {} ms, p99.9 {} ms; outbox {} live {} dead, {} kB + {} kB of"
            + " indexes; load {}",
        k,
        w.latency().getTotalCount(),
        ms(w.latency().getValueAtPercentile(50)),
        ms(w.latency().getValueAtPercentile(99)),
        ms(w.latency().getValueAtPercentile(99.9)),
        outbox.live(),
        outbox.dead(),
        outbox.tableBytes() / 1024,
        outbox.indexBytes() / 1024,
        w.loadAverage());
  }

  /** Live and dead tuples, sizes and autovacuum runs of the outbox, the archive and the ledger. */
  static Map<String, TableState> tableStates(HikariDataSource pool, CourierTables tables) {
    Map<String, String> names =
        Map.of(
            tables.outbox(), "outbox",
            tables.outboxArchive(), "archive",
            tables.processedEvents(), "ledger");
    // a table partitioned by time is the sum of its partitions
    String sql =
        "SELECT t.name, sum(coalesce(s.n_live_tup, 0)), sum(coalesce(s.n_dead_tup, 0)), sum(pg_relation_size(p.relid)),"
            + " sum(pg_indexes_size(p.relid)), sum(coalesce(s.autovacuum_count, 0))"
            + " FROM unnest(?::text[]) AS t(name) CROSS JOIN LATERAL"
            + " (SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass(t.name) AND c.relkind = 'r'"
            + " UNION ALL SELECT l.relid FROM pg_partition_tree(to_regclass(t.name)) l WHERE l.isleaf) AS p(relid)"
            + " LEFT JOIN pg_stat_user_tables s ON s.relid = p.relid GROUP BY t.name";
    Map<String, TableState> out = new HashMap<>();
    try (Connection c = pool.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      Array array = c.createArrayOf("text", names.keySet().toArray());
      ps.setArray(1, array);
      try (ResultSet r = ps.executeQuery()) {
        while (r.next()) {
          out.put(
              names.get(r.getString(1)),
              new TableState(r.getLong(2), r.getLong(3), r.getLong(4), r.getLong(5), r.getLong(6)));
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("SOAK: cannot read the tables' statistics: " + e.getMessage(), e);
    }
    for (String role : names.values()) {
      if (!out.containsKey(role)) {
        throw new IllegalStateException("SOAK: table of the " + role + " not found in the soak's schema");
      }
    }
    return out;
  }

  private static void report(
      RunContext ctx, List<Window> windows, Histogram whole, long written) {
    Workload w = Workload.SOAK;
    BenchOptions.SoakOptions o = ctx.options().soak();
    String rate = String.format(Locale.ROOT, "%.0f/s", o.rate());
    String span = minutes(o.window());
    for (int k = 0; k < windows.size(); k++) {
      Window win = windows.get(k);
      String at = "window " + (k + 1) + " (" + span + ")";
      String id = "w" + (k + 1) + ".";
      ctx.add(w, id + "p50", at + ": commit → committed effect p50", "ms", ms(win.latency().getValueAtPercentile(50)), null);
      ctx.add(w, id + "p99", at + ": p99", "ms", ms(win.latency().getValueAtPercentile(99)), null);
      ctx.add(w, id + "p99.9", at + ": p99.9", "ms", ms(win.latency().getValueAtPercentile(99.9)), null);
      TableState outbox = win.tables().get("outbox");
      ctx.add(w, id + "outbox.live", at + ": outbox live tuples at its end", "rows", outbox.live(), null);
      ctx.add(w, id + "outbox.dead", at + ": outbox dead tuples at its end", "rows", outbox.dead(), null);
      ctx.add(w, id + "outbox.table_mb", at + ": outbox table size", "MB", mb(outbox.tableBytes()), null);
      ctx.add(w, id + "outbox.index_mb", at + ": outbox index size", "MB", mb(outbox.indexBytes()), null);
      TableState ledger = win.tables().get("ledger");
      ctx.add(w, id + "ledger.dead", at + ": ledger dead tuples at its end", "rows", ledger.dead(), null);
      ctx.add(w, id + "ledger.total_mb", at + ": ledger table + index size", "MB", mb(ledger.tableBytes() + ledger.indexBytes()), null);
      TableState archive = win.tables().get("archive");
      ctx.add(w, id + "archive.total_mb", at + ": archive table + index size", "MB", mb(archive.tableBytes() + archive.indexBytes()), null);
      ctx.add(w, id + "load", at + ": 1-minute load average at its end", "load", firstLoad(win.loadAverage()), null);
    }
    double first = ms(windows.getFirst().latency().getValueAtPercentile(99));
    double last = ms(windows.getLast().latency().getValueAtPercentile(99));
    ctx.add(w, "p99.drift", "p99 drift: last window's p99 ÷ first window's − 1 (at " + rate + ")", Figure.RATIO, last / first - 1, Goal.atMost(0.2));
    double lo = Double.MAX_VALUE;
    double hi = 0;
    for (Window win : windows) {
      double p99 = ms(win.latency().getValueAtPercentile(99));
      lo = Math.min(lo, p99);
      hi = Math.max(hi, p99);
    }
    ctx.add(w, "p99.spread", "highest window p99 ÷ lowest (context)", Figure.RATIO, hi / lo, null);
    ctx.add(w, "p50", "whole soak: commit → committed effect p50 at " + rate, "ms", ms(whole.getValueAtPercentile(50)), null);
    ctx.add(w, "p99", "whole soak: p99", "ms", ms(whole.getValueAtPercentile(99)), null);
    ctx.add(w, "p99.9", "whole soak: p99.9", "ms", ms(whole.getValueAtPercentile(99.9)), null);
    ctx.add(w, "max", "whole soak: max", "ms", ms(whole.getMaxValue()), null);
    ctx.add(w, "events", "events written and applied exactly once", "events", written, null);
    TableState o1 = windows.getFirst().tables().get("outbox");
    TableState on = windows.getLast().tables().get("outbox");
    ctx.add(w, "outbox.growth", "outbox table + index size, last window ÷ first (context)", Figure.RATIO,
        (double) (on.tableBytes() + on.indexBytes()) / Math.max(1, o1.tableBytes() + o1.indexBytes()), null);
    long maxDead = windows.stream().mapToLong(x -> x.tables().get("outbox").dead()).max().orElse(0);
    ctx.add(w, "outbox.dead.max", "outbox dead tuples, highest at a window's end", "rows", maxDead, null);
    ctx.add(w, "outbox.autovacuums", "autovacuum runs on the outbox during the soak", "runs", on.autovacuums(), null);
    ctx.add(w, "pruned", "rows removed by retention during the soak (outbox, archive, ledger)", "rows", windows.getLast().pruned(), null);
  }

  private static double firstLoad(String loadAverage) {
    try {
      return Double.parseDouble(loadAverage.split(" ")[0]);
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }

  private static String minutes(Duration d) {
    return d.toSeconds() % 60 == 0 ? d.toMinutes() + " min" : d.toSeconds() + " s";
  }

  private static double mb(long bytes) {
    return bytes / (1024.0 * 1024.0);
  }

  private static double ms(long micros) {
    return micros / 1000.0;
  }
}
