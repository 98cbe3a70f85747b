package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.relay.Relay;

/**
 * W5: whether the drain keeps its rate as the backlog grows: the relay drains a backlog of a tenth
 * of W2's ({@code --backlog}; 10,000 by default) and one of ten times W2's (1,000,000 by default),
 * each in a fresh schema, with the first payload size, in the same run, by the default relay and in
 * log mode. The soak (a constant rate for an hour: p99 drift, dead tuples, table and index sizes)
 * is the separate SOAK workload.
 */
final class Scaling {
  private Scaling() {}

  /** One relay configuration W5 measures, with the goal of its large ÷ small drain. */
  private record Mode(String id, String label, Relay.ClaimMode mode, Goal goal) {}

  private static final Mode[] MODES = {
    new Mode("", "relay drain (defaults, claimMode LEASE)", Relay.ClaimMode.LEASE, Goal.atLeast(0.9)),
    new Mode("log.", "relay drain in log mode", Relay.ClaimMode.LOG, Goal.atLeast(0.95)),
  };

  static void run(RunContext ctx) {
    int size = ctx.options().payloadSizes().getFirst();
    int small = Math.max(100, ctx.options().backlog() / 10);
    int large = ctx.options().backlog() * 10;
    String sz = size + " B";
    for (Mode m : MODES) {
      double smallRate = drain(ctx, small, size, m.mode());
      double largeRate = drain(ctx, large, size, m.mode());
      ctx.add(Workload.W5, m.id() + "drain.small", m.label() + ", backlog " + small + ", " + sz, "events/s", smallRate, null);
      ctx.add(Workload.W5, m.id() + "drain.large", m.label() + ", backlog " + large + ", " + sz, "events/s", largeRate, null);
      ctx.add(
          Workload.W5,
          m.id() + "large_vs_small",
          m.label() + ": drain at a backlog of " + large + " ÷ at " + small + ", " + sz,
          Figure.RATIO,
          largeRate / smallRate,
          m.goal());
    }
  }

  private static double drain(RunContext ctx, int n, int size, Relay.ClaimMode mode) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("w5-" + n);
    HikariDataSource pool = env.freshSchema("w5", 8);
    try {
      return RelayDrain.drain(env, pool, topic, n, size, env::checkpoint, mode, false, 1).eventsPerSecond();
    } finally {
      env.discard(pool);
    }
  }
}
