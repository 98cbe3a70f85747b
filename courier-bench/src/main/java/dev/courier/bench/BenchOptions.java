package dev.courier.bench;

import dev.courier.internal.Durations;
import dev.courier.relay.Relay;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import picocli.CommandLine.ParameterException;

/**
 * What to run and for how long. Built from the command line by {@link #parse(String...)}; every
 * value is checked there, with a message naming the option.
 *
 * @param workloads the workloads to run
 * @param runs how many times the whole selection runs; every figure is reported as min / median /
 *     max over the runs
 * @param duration how long each closed-loop measurement lasts (W0, W1) and the time a W4 consumer
 *     is sized to take
 * @param warmup how long each closed-loop measurement runs before counting
 * @param backlog outbox rows drained by the relay and the hand-written loop in W2, and the records
 *     the Kafka ceiling publishes (again and again, for at least a fifth of {@code duration}, at
 *     most 2 s)
 * @param payloadSizes payload sizes in bytes for W0's publish ceiling and W2
 * @param clients writer counts for W0 and W1
 * @param e2eRate events per second written in W3
 * @param e2eDuration how long W3 measures
 * @param e2eWarmup how long W3 writes before it starts recording
 * @param duplicatePercents duplicate shares for W4, in percent
 * @param e2eExperiment whether W3 also runs with the writer calling {@code relay.wakeup()} after
 *     its commit instead of the append hook, reported as context
 * @param warmupRound whether a short unreported round runs first, so that run 1 is not the one
 *     that pays for JIT compilation
 * @param kafkaHeap the embedded broker's maximum heap
 * @param output where the report is written
 * @param commandLine the command line, quoted in the report
 * @param gruelboxBacklog the backlog that gruelbox transaction-outbox and Courier each drain in the
 *     gruelbox comparison (smaller than W2's: gruelbox publishes one entry at a time)
 * @param peerBacklog the backlog that Debezium and Courier each drain in the Debezium comparison
 * @param peerE2eDuration how long each end-to-end run of the peers' comparisons measures
 * @param modulithBacklog the backlog that Spring Modulith and Courier each drain in the Modulith
 *     comparison
 * @param e2eLoads W3's loaded runs, each at this percentage of the relay's drain on the benchmark's
 *     own PostgreSQL, measured in the same run
 * @param soak the soak's length, window and rate (SOAK; not part of {@code all})
 * @param sweep whether the Kafka ceiling and the hand-written loop of W2 are each measured over a
 *     grid of settings and the best kept ({@code false}: each at one setting, the grid's usual
 *     winner)
 */
public record BenchOptions(
    Set<Workload> workloads,
    int runs,
    Duration duration,
    Duration warmup,
    int backlog,
    List<Integer> payloadSizes,
    List<Integer> clients,
    double e2eRate,
    Duration e2eDuration,
    Duration e2eWarmup,
    List<Integer> duplicatePercents,
    boolean e2eExperiment,
    boolean warmupRound,
    String kafkaHeap,
    Path output,
    String commandLine,
    int gruelboxBacklog,
    int peerBacklog,
    Duration peerE2eDuration,
    int modulithBacklog,
    List<Integer> e2eLoads,
    SoakOptions soak,
    boolean sweep) {

  /**
   * The soak: the W3 path at a constant {@code rate} for {@code duration}, its latency and the
   * tables' state reported per {@code window}.
   */
  public record SoakOptions(Duration duration, Duration window, double rate, Relay.ClaimMode claimMode) {
    public SoakOptions {
      Objects.requireNonNull(duration, "duration");
      Objects.requireNonNull(window, "window");
      Objects.requireNonNull(claimMode, "claimMode");
      if (window.compareTo(duration) > 0) {
        throw new IllegalArgumentException(
            "--soak-window (" + Durations.format(window) + ") is longer than --soak-duration (" + Durations.format(duration) + ")");
      }
    }

    /** How many whole windows the soak reports. */
    public int windows() {
      return (int) (duration.toMillis() / window.toMillis());
    }
  }

  public BenchOptions {
    Objects.requireNonNull(workloads, "workloads");
    workloads = Set.copyOf(workloads);
    payloadSizes = List.copyOf(payloadSizes);
    clients = List.copyOf(clients);
    duplicatePercents = List.copyOf(duplicatePercents);
    e2eLoads = List.copyOf(e2eLoads);
  }

  /** The defaults, for the full benchmark: what an empty command line selects. */
  public static BenchOptions defaults() {
    return parse();
  }

  /** {@code --quick}: one run of everything, briefly, to see that it works and roughly where it stands. */
  static BenchOptions quick(BenchOptions d) {
    return new BenchOptions(
        d.workloads,
        1,
        Duration.ofSeconds(3),
        Duration.ofSeconds(1),
        20_000,
        List.of(256),
        List.of(1, 8),
        d.e2eRate,
        Duration.ofSeconds(10),
        Duration.ofSeconds(2),
        List.of(1),
        false,
        true,
        d.kafkaHeap,
        d.output,
        d.commandLine,
        1_000,
        10_000,
        Duration.ofSeconds(10),
        1_000,
        d.e2eLoads.isEmpty() ? List.of() : List.of(d.e2eLoads.getFirst()),
        new SoakOptions(Duration.ofSeconds(60), Duration.ofSeconds(20), d.soak.rate(), d.soak.claimMode()),
        false);
  }

  /**
   * The options of the unreported warm-up round: every selected workload, briefly, so that the
   * JIT has compiled the hot paths of Courier, the clients and the broker before run 1.
   */
  BenchOptions forWarmupRound() {
    return new BenchOptions(
        workloads,
        1,
        Duration.ofSeconds(1),
        Duration.ofMillis(200),
        Math.min(backlog, 5_000),
        payloadSizes,
        List.of(clients.getFirst()),
        e2eRate,
        Duration.ofSeconds(3),
        Duration.ofMillis(500),
        List.of(duplicatePercents.getFirst()),
        false,
        false,
        kafkaHeap,
        output,
        commandLine,
        Math.min(gruelboxBacklog, 500),
        Math.min(peerBacklog, 2_000),
        Duration.ofSeconds(3),
        Math.min(modulithBacklog, 500),
        e2eLoads.isEmpty() ? List.of() : List.of(e2eLoads.getFirst()),
        new SoakOptions(Duration.ofSeconds(6), Duration.ofSeconds(3), soak.rate(), soak.claimMode()),
        sweep);
  }

  /** Whether {@code w} is selected. */
  public boolean runs(Workload w) {
    return workloads.contains(w);
  }

  /**
   * Parses a command line ({@link BenchCommand} has the options and {@code --help} lists them);
   * {@code --update-doc} is accepted and left to {@link BenchMain}.
   *
   * @throws IllegalArgumentException naming the option at fault
   */
  public static BenchOptions parse(String... args) {
    try {
      return BenchCommand.parse(args).options();
    } catch (ParameterException e) {
      throw new IllegalArgumentException(BenchCommand.message(e), e);
    }
  }
}
