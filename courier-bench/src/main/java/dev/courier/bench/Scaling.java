package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;

/**
 * W5: whether the drain keeps its rate as the backlog grows: the relay drains a backlog of a tenth
 * of W2's ({@code --backlog}; 10,000 by default) and one of ten times W2's (1,000,000 by default),
 * each in a fresh schema, with the first payload size, in the same run. The soak of the issue (60
 * minutes at a constant rate: p99 drift, dead tuples, table and index sizes) is not part of it.
 */
final class Scaling {
  private Scaling() {}

  static void run(RunContext ctx) {
    int size = ctx.options().payloadSizes().getFirst();
    int small = Math.max(100, ctx.options().backlog() / 10);
    int large = ctx.options().backlog() * 10;
    double smallRate = drain(ctx, small, size);
    double largeRate = drain(ctx, large, size);
    String sz = size + " B";
    ctx.add(Workload.W5, "drain.small", "relay drain, backlog " + small + ", " + sz, "events/s", smallRate, null);
    ctx.add(Workload.W5, "drain.large", "relay drain, backlog " + large + ", " + sz, "events/s", largeRate, null);
    ctx.add(
        Workload.W5,
        "large_vs_small",
        "drain at a backlog of " + large + " ÷ at " + small + ", " + sz,
        Figure.RATIO,
        largeRate / smallRate,
        Goal.atLeast(0.9));
  }

  private static double drain(RunContext ctx, int n, int size) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("w5-" + n);
    HikariDataSource pool = env.freshSchema("w5", 8);
    try {
      return RelayDrain.drain(env, pool, topic, n, size, env::checkpoint).eventsPerSecond();
    } finally {
      env.discard(pool);
    }
  }
}
