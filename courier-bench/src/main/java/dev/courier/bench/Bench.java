package dev.courier.bench;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs the selected workloads {@code runs} times on one set of real engines. */
public final class Bench {
  private static final Logger log = LoggerFactory.getLogger(Bench.class);

  private final BenchOptions options;

  public Bench(BenchOptions options) {
    this.options = options;
  }

  private static void runWorkloads(RunContext ctx) {
    BenchOptions options = ctx.options();
    if (options.runs(Workload.W0)) {
      Ceilings.run(ctx);
    }
    if (options.runs(Workload.W1)) {
      ProducerCost.run(ctx);
    }
    if (options.runs(Workload.W2)) {
      RelayDrain.run(ctx);
      BrokerDrain.run(ctx);
    }
    if (options.runs(Workload.W3)) {
      EndToEnd.run(ctx);
    }
    if (options.runs(Workload.W4)) {
      ConsumerCost.run(ctx);
    }
    if (options.runs(Workload.W5)) {
      Scaling.run(ctx);
    }
    if (options.runs(Workload.W6)) {
      WakeupModes.run(ctx);
    }
    if (options.runs(Workload.GRUELBOX)) {
      GruelboxPeer.run(ctx);
    }
    if (options.runs(Workload.DEBEZIUM)) {
      DebeziumPeer.run(ctx);
    }
    if (options.runs(Workload.MODULITH)) {
      ModulithPeer.run(ctx);
    }
    if (options.runs(Workload.SOAK)) {
      Soak.run(ctx);
    }
  }

  /**
   * Starts the engines, runs every selected workload in every run, stops the engines.
   *
   * @throws IllegalStateException if a measurement fails; a benchmark that errors reports nothing
   */
  public BenchReport run() {
    Instant started = Instant.now();
    try (BenchEnvironment env = BenchEnvironment.start(options)) {
      if (options.warmupRound()) {
        log.info("warm-up round (not reported)");
        runWorkloads(new RunContext(0, options.forWarmupRound(), env));
      }
      List<BenchReport.Run> runs = new ArrayList<>();
      for (int run = 1; run <= options.runs(); run++) {
        String before = BenchEnvironment.loadAverage();
        log.info("run {} of {} starting, load average {}", run, options.runs(), before);
        RunContext ctx = new RunContext(run, options, env);
        runWorkloads(ctx);
        runs.add(new BenchReport.Run(run, before, BenchEnvironment.loadAverage(), ctx.figures()));
      }
      return new BenchReport(options, started, BenchEnvironment.machine(), env.durability(), runs);
    }
  }
}
