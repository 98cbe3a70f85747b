package dev.courier.bench;

import dev.courier.ConfigurationException;
import dev.courier.internal.Durations;
import dev.courier.relay.Relay;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What to run and for how long. Built from the command line by {@link #parse(String[])}; every
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
        throw new IllegalArgumentException("--soak-window (" + window + ") is longer than --soak-duration (" + duration + ")");
      }
    }

    /** How many whole windows the soak reports. */
    public int windows() {
      return (int) (duration.toMillis() / window.toMillis());
    }
  }

  /** The usage text printed by {@code --help}. */
  public static final String USAGE =
      """
      Usage: BenchMain [options]

        --workloads LIST     W0,W1,W2,W3,W4,W5,W6,GRUELBOX,DEBEZIUM,MODULITH,SOAK or all (default all;
                             all leaves SOAK out: it runs for --soak-duration)
        --quick              a look, not a report: 1 run, short phases, small backlogs, 256 B only
        --runs N             runs of the whole selection, >= 1 (default 3; the report needs >= 3)
        --duration D         each closed-loop measurement (W0, W1; W4 is sized to it) (default 10s)
        --warmup D           unmeasured lead-in of each closed-loop measurement (default 2s)
        --backlog N          W2 backlog rows, the records the ceilings publish (default 100000);
                             W5 drains N/10 and 10N
        --million            shorthand for --backlog 1000000
        --payloads LIST      payload sizes in bytes for W0/W2 (default 256,1024)
        --clients LIST       writer counts for W0/W1 (default 1,8)
        --e2e-rate R         W3 events per second, open loop (default 167)
        --e2e-duration D     W3 measured time (default 60s)
        --e2e-warmup D       W3 unrecorded lead-in (default 5s)
        --duplicates LIST    W4 duplicate shares in percent (default 1,10)
        --gruelbox-backlog N backlog drained by gruelbox and by Courier in GRUELBOX (default 5000)
        --peer-backlog N     backlog drained by Debezium and by Courier in DEBEZIUM (default 50000)
        --modulith-backlog N backlog drained by Spring Modulith and by Courier in MODULITH (default 5000)
        --peer-e2e-duration D  measured time of each end-to-end run of W6, of the peers and of
                             W3's loaded runs (default 20s)
        --e2e-loads LIST     W3's loaded runs, in percent of the relay's drain on the
                             benchmark's own PostgreSQL (default 50,80; 0 for none)
        --soak-duration D    SOAK: how long the constant-rate writer runs (default 60m)
        --soak-window D      SOAK: latency and table sizes are reported per window (default 10m)
        --soak-rate R        SOAK: events per second, open loop (default 167)
        --soak-claim-mode M  SOAK: lease (default) or log: log mode on an outbox partitioned by
                             the hour, retention dropping whole partitions
        --e2e-experiment     W3 also runs with relay.wakeup() after the commit (context)
        --no-warmup-round    skip the short unreported round that warms the JIT before run 1
        --no-sweep           W0/W2: the Kafka ceiling and the hand-written loop at one setting each
                             instead of the best of a sweep (batch.size x linger.ms; claim x linger.ms)
        --kafka-heap SIZE    embedded broker heap (default 1g)
        --output FILE        report file, Markdown (default bench-results.md)
        --update-doc FILE    also rewrite the results section of FILE (between its bench:results markers)
        --help               this text

      Durations: a whole number with a unit (500ms, 10s, 2m, 1h, 1m30s) or ISO-8601 (PT10S);
      a bare number other than 0 is refused. See docs/CONFIGURATION.md, "Value formats".
      """;

  public BenchOptions {
    Objects.requireNonNull(workloads, "workloads");
    workloads = Set.copyOf(workloads);
    payloadSizes = List.copyOf(payloadSizes);
    clients = List.copyOf(clients);
    duplicatePercents = List.copyOf(duplicatePercents);
    e2eLoads = List.copyOf(e2eLoads);
  }

  /** The defaults, for the full benchmark. */
  public static BenchOptions defaults() {
    return new BenchOptions(
        Workload.ALL,
        3,
        Duration.ofSeconds(10),
        Duration.ofSeconds(2),
        100_000,
        List.of(256, 1024),
        List.of(1, 8),
        167,
        Duration.ofSeconds(60),
        Duration.ofSeconds(5),
        List.of(1, 10),
        false,
        true,
        "1g",
        Path.of("bench-results.md"),
        "",
        5_000,
        50_000,
        Duration.ofSeconds(20),
        5_000,
        List.of(50, 80),
        new SoakOptions(Duration.ofMinutes(60), Duration.ofMinutes(10), 167, Relay.ClaimMode.LEASE),
        true);
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
   * Parses a command line.
   *
   * @throws IllegalArgumentException naming the option at fault
   */
  public static BenchOptions parse(String[] args) {
    BenchOptions d = defaults();
    Set<Workload> workloads = EnumSet.copyOf(d.workloads());
    int runs = d.runs();
    Duration duration = d.duration();
    Duration warmup = d.warmup();
    int backlog = d.backlog();
    List<Integer> payloads = d.payloadSizes();
    List<Integer> clients = d.clients();
    double rate = d.e2eRate();
    Duration e2eDuration = d.e2eDuration();
    Duration e2eWarmup = d.e2eWarmup();
    List<Integer> duplicates = d.duplicatePercents();
    boolean experiment = d.e2eExperiment();
    boolean warmupRound = d.warmupRound();
    String heap = d.kafkaHeap();
    Path output = d.output();
    int gruelboxBacklog = d.gruelboxBacklog();
    int peerBacklog = d.peerBacklog();
    Duration peerE2eDuration = d.peerE2eDuration();
    int modulithBacklog = d.modulithBacklog();
    List<Integer> e2eLoads = d.e2eLoads();
    Duration soakDuration = d.soak().duration();
    Duration soakWindow = d.soak().window();
    double soakRate = d.soak().rate();
    Relay.ClaimMode soakMode = d.soak().claimMode();
    boolean sweep = d.sweep();
    boolean quick = false;
    for (int i = 0; i < args.length; i++) {
      String option = args[i];
      if (option.equals("--quick")) {
        quick = true;
        continue;
      }
      if (option.equals("--million")) {
        backlog = 1_000_000;
        continue;
      }
      if (option.equals("--e2e-experiment")) {
        experiment = true;
        continue;
      }
      if (option.equals("--no-warmup-round")) {
        warmupRound = false;
        continue;
      }
      if (option.equals("--no-sweep")) {
        sweep = false;
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(option + " needs a value (or is unknown); see --help");
      }
      String value = args[++i];
      switch (option) {
        case "--workloads" -> workloads = parseWorkloads(value);
        case "--runs" -> runs = positiveInt(option, value);
        case "--duration" -> duration = parseDuration(option, value);
        case "--warmup" -> warmup = parseDuration(option, value, true);
        case "--backlog" -> backlog = positiveInt(option, value);
        case "--payloads" -> payloads = intList(option, value);
        case "--clients" -> clients = intList(option, value);
        case "--e2e-rate" -> rate = positiveDouble(option, value);
        case "--e2e-duration" -> e2eDuration = parseDuration(option, value);
        case "--e2e-warmup" -> e2eWarmup = parseDuration(option, value, true);
        case "--duplicates" -> {
          duplicates = intList(option, value);
          for (int p : duplicates) {
            if (p >= 100) {
              throw new IllegalArgumentException(option + ": a duplicate share must be below 100%, was " + p);
            }
          }
        }
        case "--kafka-heap" -> {
          if (!value.matches("[1-9][0-9]*[kKmMgG]?")) {
            throw new IllegalArgumentException(option + " must look like 512m or 1g, was " + value);
          }
          heap = value;
        }
        case "--output" -> output = Path.of(value);
        case "--gruelbox-backlog" -> gruelboxBacklog = positiveInt(option, value);
        case "--peer-backlog" -> peerBacklog = positiveInt(option, value);
        case "--peer-e2e-duration" -> peerE2eDuration = parseDuration(option, value);
        case "--e2e-loads" -> {
          e2eLoads = value.trim().equals("0") ? List.of() : intList(option, value);
          for (int p : e2eLoads) {
            if (p > 100) {
              throw new IllegalArgumentException(option + ": a share of the drain above 100% cannot be sustained, was " + p);
            }
          }
        }
        case "--soak-duration" -> soakDuration = parseDuration(option, value);
        case "--soak-window" -> soakWindow = parseDuration(option, value);
        case "--soak-rate" -> soakRate = positiveDouble(option, value);
        case "--soak-claim-mode" -> {
          switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "lease" -> soakMode = Relay.ClaimMode.LEASE;
            case "log" -> soakMode = Relay.ClaimMode.LOG;
            default -> throw new IllegalArgumentException(option + " must be lease or log, was " + value);
          }
        }
        case "--modulith-backlog" -> modulithBacklog = positiveInt(option, value);
        default -> throw new IllegalArgumentException("unknown option " + option + "; see --help");
      }
    }
    if (quick) {
      // --quick sets the sizes; a --workloads, --output or --kafka-heap given with it still applies
      return quick(
          new BenchOptions(
              workloads, runs, duration, warmup, backlog, payloads, clients, rate, e2eDuration, e2eWarmup,
              duplicates, experiment, warmupRound, heap, output, String.join(" ", args), gruelboxBacklog,
              peerBacklog, peerE2eDuration, modulithBacklog, e2eLoads, new SoakOptions(soakDuration, soakWindow, soakRate, soakMode),
              sweep));
    }
    return new BenchOptions(
        workloads,
        runs,
        duration,
        warmup,
        backlog,
        payloads,
        clients,
        rate,
        e2eDuration,
        e2eWarmup,
        duplicates,
        experiment,
        warmupRound,
        heap,
        output,
        String.join(" ", args),
        gruelboxBacklog,
        peerBacklog,
        peerE2eDuration,
        modulithBacklog,
        e2eLoads,
        new SoakOptions(soakDuration, soakWindow, soakRate, soakMode),
        sweep);
  }

  private static Set<Workload> parseWorkloads(String value) {
    if (value.equalsIgnoreCase("all")) {
      return Workload.ALL;
    }
    Set<Workload> set = EnumSet.noneOf(Workload.class);
    for (String part : value.split(",")) {
      if (!part.isBlank()) {
        set.add(Workload.parse(part));
      }
    }
    if (set.isEmpty()) {
      throw new IllegalArgumentException("--workloads names no workload");
    }
    return set;
  }

  static Duration parseDuration(String option, String value) {
    return parseDuration(option, value, false);
  }

  /**
   * A duration in Courier's one syntax ({@link Durations}); zero only where {@code zeroAllowed}.
   *
   * @throws IllegalArgumentException naming the option, for the usage text
   */
  static Duration parseDuration(String option, String value, boolean zeroAllowed) {
    try {
      return zeroAllowed ? Durations.parse(option, value) : Durations.parsePositive(option, value);
    } catch (ConfigurationException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static int positiveInt(String option, String value) {
    try {
      int n = Integer.parseInt(value.trim());
      if (n < 1) {
        throw new IllegalArgumentException(option + " must be at least 1, was " + value);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " is not a whole number: " + value, e);
    }
  }

  private static double positiveDouble(String option, String value) {
    try {
      double n = Double.parseDouble(value.trim());
      if (!(n > 0) || Double.isInfinite(n)) {
        throw new IllegalArgumentException(option + " must be positive, was " + value);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + " is not a number: " + value, e);
    }
  }

  private static List<Integer> intList(String option, String value) {
    List<Integer> out = new ArrayList<>();
    for (String part : value.split(",")) {
      if (!part.isBlank()) {
        out.add(positiveInt(option, part));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(option + " needs at least one value");
    }
    return out;
  }
}
