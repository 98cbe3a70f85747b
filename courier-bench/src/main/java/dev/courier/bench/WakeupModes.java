package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.relay.PgWakeups;
import dev.courier.relay.Relay;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * W6: how the relay learns of new rows. Latency, commit → record at a consumer (the {@link
 * ArrivalClock} of the peers' comparisons) at the W3 rate, with the relay polling every 10, 100 or
 * 1,000 ms and nothing else; woken by PostgreSQL {@code NOTIFY} ({@link PgWakeups}, a notifier at
 * most every 20 ms as CONFIGURATION.md suggests, and a listener); and woken in-process ({@code
 * onAppend(relay::wakeup)}, Courier's default in the other workloads). Then the writer's cost of the
 * wake-ups: business row + {@code Outbox.append}, closed loop, with the relay draining at its
 * default polling in every variant, with the in-process hook or the NOTIFY hook ÷ with no hook.
 */
final class WakeupModes {
  static final Duration NOTIFY_INTERVAL = Duration.ofMillis(20);
  private static final AtomicInteger CHANNELS = new AtomicInteger();

  private WakeupModes() {}

  private enum Mode {
    POLL_10("poll every 10 ms", Duration.ofMillis(10)),
    POLL_100("poll every 100 ms", Duration.ofMillis(100)),
    POLL_1000("poll every 1,000 ms", Duration.ofMillis(1000)),
    NOTIFY("LISTEN/NOTIFY (notifier every ≤ 20 ms), default polling", null),
    IN_PROCESS("in-process onAppend(relay::wakeup), default polling", null),
    OFF("no wake-up, default polling (5 ms → 1 s)", null);

    final String label;
    final Duration poll;

    Mode(String label, Duration poll) {
      this.label = label;
      this.poll = poll;
    }

    String id() {
      return name().toLowerCase(Locale.ROOT).replace('_', '.');
    }
  }

  /** A relay, a transport and the outbox wired for one mode; closing stops them. */
  private static final class Wiring implements AutoCloseable {
    final Outbox outbox;
    final Relay relay;
    private final KafkaTransport transport;
    private final List<AutoCloseable> extras = new ArrayList<>();

    Wiring(BenchEnvironment env, HikariDataSource pool, Mode mode) {
      transport = KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build();
      Relay.Builder rb = Relay.builder(pool, transport);
      if (mode.poll != null) {
        rb.minPollInterval(mode.poll).maxPollInterval(mode.poll);
      }
      relay = rb.build();
      Outbox.Builder ob = Outbox.builder();
      switch (mode) {
        case NOTIFY -> {
          String channel = "bench_w6_" + CHANNELS.incrementAndGet() + "_" + System.nanoTime() % 100_000;
          PgWakeups.Notifier notifier = PgWakeups.notifier(pool, channel, NOTIFY_INTERVAL);
          extras.add(notifier);
          extras.add(PgWakeups.listen(pool, channel, relay));
          ob.onAppend(events -> notifier.run());
        }
        case IN_PROCESS -> ob.onAppend(events -> relay.wakeup());
        default -> {}
      }
      outbox = ob.build();
      relay.start();
    }

    @Override
    public void close() {
      for (AutoCloseable c : extras.reversed()) {
        try {
          c.close();
        } catch (Exception e) {
          // best effort: the schema is dropped afterwards anyway
        }
      }
      relay.close();
      transport.close();
    }
  }

  static void run(RunContext ctx) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    String rate = String.format(Locale.ROOT, "%.0f/s", o.e2eRate());
    for (Mode mode : List.of(Mode.POLL_10, Mode.POLL_100, Mode.POLL_1000, Mode.NOTIFY, Mode.IN_PROCESS)) {
      Histogram h = latency(env, o, mode);
      ctx.add(Workload.W6, mode.id() + ".p50", "commit → record at a consumer p50 at " + rate + ", " + mode.label, "ms", ArrivalClock.ms(h.getValueAtPercentile(50)), null);
      ctx.add(Workload.W6, mode.id() + ".p99", "commit → record at a consumer p99 at " + rate + ", " + mode.label, "ms", ArrivalClock.ms(h.getValueAtPercentile(99)), null);
    }
    int clients = o.clients().getLast();
    List<Mode> order = new ArrayList<>(List.of(Mode.OFF, Mode.IN_PROCESS, Mode.NOTIFY));
    if (ctx.run() % 2 == 0) {
      order = order.reversed();
    }
    double off = 0;
    double inProcess = 0;
    double notify = 0;
    for (Mode mode : order) {
      double tps = writerRate(env, o, mode, clients);
      switch (mode) {
        case OFF -> off = tps;
        case IN_PROCESS -> inProcess = tps;
        default -> notify = tps;
      }
    }
    String at = clients + " client(s)";
    ctx.add(Workload.W6, "writer.off", "writer tx/s, business row + Outbox.append, no wake-up, " + at, "tx/s", off, null);
    ctx.add(Workload.W6, "writer.in.process", "writer tx/s, in-process wake-up, " + at, "tx/s", inProcess, null);
    ctx.add(Workload.W6, "writer.notify", "writer tx/s, NOTIFY wake-up, " + at, "tx/s", notify, null);
    ctx.add(Workload.W6, "writer.in.process_ratio", "writer tx/s with the in-process wake-up ÷ without, " + at, Figure.RATIO, inProcess / off, Goal.atLeast(0.95));
    ctx.add(Workload.W6, "writer.notify_ratio", "writer tx/s with the NOTIFY wake-up ÷ without, " + at, Figure.RATIO, notify / off, Goal.atLeast(0.95));
  }

  private static Histogram latency(BenchEnvironment env, BenchOptions o, Mode mode) {
    String topic = env.newTopic("w6-" + mode.id());
    HikariDataSource pool = env.freshSchema("w6", 10);
    try (Wiring w = new Wiring(env, pool, mode);
        ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic);
        Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      ArrivalClock.Writer writer =
          (i, due, payload) -> {
            long orderId = BenchEvents.orderId(8, i);
            BenchEvents.insertOrder(c, orderId);
            w.outbox.append(c, BenchEvents.event(topic, orderId, payload));
            c.commit();
          };
      writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
      clock.awaitArrived(1, Duration.ofSeconds(60));
      return clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("W6 " + mode + " failed: " + e, e);
    } finally {
      env.discard(pool);
    }
  }

  private static double writerRate(BenchEnvironment env, BenchOptions o, Mode mode, int clients) {
    String topic = env.newTopic("w6-writer-" + mode.id());
    HikariDataSource pool = env.freshSchema("w6_writer", clients + 8);
    byte[] payload = BenchEvents.payload(ProducerCost.PAYLOAD, 7);
    try (Wiring w = new Wiring(env, pool, mode)) {
      env.checkpoint();
      return ClosedLoop.commitsPerSecond(
          pool,
          clients,
          o.warmup(),
          o.duration(),
          (c, client, seq) -> {
            long orderId = BenchEvents.orderId(client, seq);
            BenchEvents.insertOrder(c, orderId);
            w.outbox.append(c, BenchEvents.event(topic, orderId, payload));
          });
    } finally {
      env.discard(pool);
    }
  }
}
