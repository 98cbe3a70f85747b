package dev.courier.bench;

import dev.courier.ConfigurationException;
import dev.courier.internal.Durations;
import dev.courier.relay.Relay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * The command line of {@code ./courier bench}: its options, their defaults and their checks, from
 * which picocli reads the arguments and writes the {@code --help} text. {@link #options()} turns a
 * parsed command line into the {@link BenchOptions} the workloads read.
 *
 * <p>A wrong value is refused while parsing with a {@link ParameterException}; {@link
 * #message(ParameterException)} words it as every Courier setting's error is worded, option first
 * ({@code --duration: '10' has no unit; ...}).
 */
@Command(
    name = "courier bench",
    abbreviateSynopsis = true,
    sortOptions = false,
    usageHelpWidth = 100,
    description = {
      "Runs Courier's benchmarks and writes the report as Markdown: every figure is a ratio to a",
      "ceiling measured on the same machine in the same run, as min / median / max over the runs.",
      ""
    },
    footer = {
      "",
      "Durations: a whole number with a unit (500ms, 10s, 2m, 1h, 1m30s) or ISO-8601 (PT10S);",
      "a bare number other than 0 is refused. See docs/CONFIGURATION.md, \"Value formats\".",
      "Exit status: 0 report written, 1 a measurement or the report failed, 2 a wrong command line."
    })
final class BenchCommand {
  @Spec CommandSpec spec;

  @Option(
      names = "--workloads",
      paramLabel = "LIST",
      split = ",",
      hideParamSyntax = true,
      defaultValue = "all",
      converter = WorkloadName.class,
      description =
          "W0,W1,W2,W3,W4,W5,W6,GRUELBOX,DEBEZIUM,MODULITH,SOAK or all, comma-separated (default "
              + "${DEFAULT-VALUE}; all leaves SOAK out: it runs for --soak-duration; all,SOAK runs "
              + "everything)")
  List<String> workloads;

  @Option(
      names = "--quick",
      description = "a look, not a report: 1 run, short phases, small backlogs, 256 B only")
  boolean quick;

  @Option(
      names = "--runs",
      paramLabel = "N",
      defaultValue = "3",
      converter = PositiveInt.class,
      description =
          "runs of the whole selection, >= 1 (default ${DEFAULT-VALUE}; the report needs >= 3)")
  int runs;

  @Option(
      names = "--duration",
      paramLabel = "D",
      defaultValue = "10s",
      converter = PositiveDuration.class,
      description =
          "each closed-loop measurement (W0, W1; W4 is sized to it) (default ${DEFAULT-VALUE})")
  Duration duration;

  @Option(
      names = "--warmup",
      paramLabel = "D",
      defaultValue = "2s",
      converter = AnyDuration.class,
      description = "unmeasured lead-in of each closed-loop measurement (default ${DEFAULT-VALUE})")
  Duration warmup;

  @Option(
      names = "--backlog",
      paramLabel = "N",
      defaultValue = "100000",
      converter = PositiveInt.class,
      description =
          "W2 backlog rows, the records the ceilings publish (default ${DEFAULT-VALUE}); W5 "
              + "drains N/10 and 10N")
  int backlog;

  @Option(names = "--million", description = "shorthand for --backlog 1000000")
  boolean million;

  @Option(
      names = "--payloads",
      paramLabel = "LIST",
      split = ",",
      hideParamSyntax = true,
      defaultValue = "256,1024",
      converter = PositiveInt.class,
      description = "payload sizes in bytes for W0/W2 (default ${DEFAULT-VALUE})")
  List<Integer> payloads;

  @Option(
      names = "--clients",
      paramLabel = "LIST",
      split = ",",
      hideParamSyntax = true,
      defaultValue = "1,8",
      converter = PositiveInt.class,
      description = "writer counts for W0/W1 (default ${DEFAULT-VALUE})")
  List<Integer> clients;

  @Option(
      names = "--e2e-rate",
      paramLabel = "R",
      defaultValue = "167",
      converter = PositiveRate.class,
      description = "W3 events per second, open loop (default ${DEFAULT-VALUE})")
  double e2eRate;

  @Option(
      names = "--e2e-duration",
      paramLabel = "D",
      defaultValue = "60s",
      converter = PositiveDuration.class,
      description = "W3 measured time (default ${DEFAULT-VALUE})")
  Duration e2eDuration;

  @Option(
      names = "--e2e-warmup",
      paramLabel = "D",
      defaultValue = "5s",
      converter = AnyDuration.class,
      description = "W3 unrecorded lead-in (default ${DEFAULT-VALUE})")
  Duration e2eWarmup;

  @Option(
      names = "--duplicates",
      paramLabel = "LIST",
      split = ",",
      hideParamSyntax = true,
      defaultValue = "1,10",
      converter = DuplicateShare.class,
      description = "W4 duplicate shares in percent, each below 100 (default ${DEFAULT-VALUE})")
  List<Integer> duplicates;

  @Option(
      names = "--gruelbox-backlog",
      paramLabel = "N",
      defaultValue = "5000",
      converter = PositiveInt.class,
      description =
          "backlog drained by gruelbox and by Courier in GRUELBOX (default ${DEFAULT-VALUE})")
  int gruelboxBacklog;

  @Option(
      names = "--peer-backlog",
      paramLabel = "N",
      defaultValue = "50000",
      converter = PositiveInt.class,
      description =
          "backlog drained by Debezium and by Courier in DEBEZIUM (default ${DEFAULT-VALUE})")
  int peerBacklog;

  @Option(
      names = "--modulith-backlog",
      paramLabel = "N",
      defaultValue = "5000",
      converter = PositiveInt.class,
      description =
          "backlog drained by Spring Modulith and by Courier in MODULITH (default "
              + "${DEFAULT-VALUE})")
  int modulithBacklog;

  @Option(
      names = "--peer-e2e-duration",
      paramLabel = "D",
      defaultValue = "20s",
      converter = PositiveDuration.class,
      description =
          "measured time of each end-to-end run of W6, of the peers and of W3's loaded runs "
              + "(default ${DEFAULT-VALUE})")
  Duration peerE2eDuration;

  @Option(
      names = "--e2e-loads",
      paramLabel = "LIST",
      split = ",",
      hideParamSyntax = true,
      defaultValue = "50,80",
      converter = LoadShare.class,
      description =
          "W3's loaded runs, in percent of the relay's drain on the benchmark's own PostgreSQL,"
              + " each at most 100 (default ${DEFAULT-VALUE}; 0 for none)")
  List<Integer> e2eLoads;

  @Option(
      names = "--soak-duration",
      paramLabel = "D",
      defaultValue = "60m",
      converter = PositiveDuration.class,
      description = "SOAK: how long the constant-rate writer runs (default ${DEFAULT-VALUE})")
  Duration soakDuration;

  @Option(
      names = "--soak-window",
      paramLabel = "D",
      defaultValue = "10m",
      converter = PositiveDuration.class,
      description =
          "SOAK: latency and table sizes are reported per window (default ${DEFAULT-VALUE})")
  Duration soakWindow;

  @Option(
      names = "--soak-rate",
      paramLabel = "R",
      defaultValue = "167",
      converter = PositiveRate.class,
      description = "SOAK: events per second, open loop (default ${DEFAULT-VALUE})")
  double soakRate;

  @Option(
      names = "--soak-claim-mode",
      paramLabel = "M",
      defaultValue = "lease",
      converter = SoakClaimMode.class,
      description =
          "SOAK: lease (default) or log: log mode on an outbox partitioned by the hour, "
              + "retention dropping whole partitions")
  Relay.ClaimMode soakClaimMode;

  @Option(
      names = "--e2e-experiment",
      description = "W3 also runs with relay.wakeup() after the commit (context)")
  boolean e2eExperiment;

  @Option(
      names = "--no-warmup-round",
      description = "skip the short unreported round that warms the JIT before run 1")
  boolean noWarmupRound;

  @Option(
      names = "--no-sweep",
      description =
          "W0/W2: the Kafka ceiling and the hand-written loop at one setting each instead of "
              + "the best of a sweep (batch.size x linger.ms; claim x linger.ms)")
  boolean noSweep;

  @Option(
      names = "--kafka-heap",
      paramLabel = "SIZE",
      defaultValue = "1g",
      converter = HeapSize.class,
      description = "embedded broker heap, like 512m or 1g (default ${DEFAULT-VALUE})")
  String kafkaHeap;

  @Option(
      names = "--output",
      paramLabel = "FILE",
      defaultValue = "bench-results.md",
      description = "report file, Markdown (default ${DEFAULT-VALUE})")
  Path output;

  @Option(
      names = "--update-doc",
      paramLabel = "FILE",
      converter = ExistingFile.class,
      description =
          "also rewrite the results section of FILE (between its bench:results markers)")
  Path updateDoc;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "this text")
  boolean help;

  /** The arguments as given, quoted in the report. */
  private String commandLine = "";

  /**
   * Reads a command line.
   *
   * @throws ParameterException for an unknown option or a wrong value, naming the option
   */
  static BenchCommand parse(String... args) {
    BenchCommand command = new BenchCommand();
    new CommandLine(command).parseArgs(args);
    command.commandLine = String.join(" ", args);
    return command;
  }

  /** The picocli command line these options were read by, for its usage text. */
  CommandLine commandLine() {
    return spec.commandLine();
  }

  /**
   * What to run: the options as given, or with {@code --quick} the short sizes of {@link
   * BenchOptions#quick}.
   *
   * @throws ParameterException when options contradict each other or a list is empty
   */
  BenchOptions options() {
    Set<Workload> selected = EnumSet.noneOf(Workload.class);
    for (String name : workloads) {
      selected.addAll(name.equals("all") ? Workload.ALL : Set.of(Workload.valueOf(name)));
    }
    notEmpty("--workloads", selected);
    notEmpty("--payloads", payloads);
    notEmpty("--clients", clients);
    notEmpty("--duplicates", duplicates);
    BenchOptions.SoakOptions soak;
    try {
      soak = new BenchOptions.SoakOptions(soakDuration, soakWindow, soakRate, soakClaimMode);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    BenchOptions options =
        new BenchOptions(
            selected,
            runs,
            duration,
            warmup,
            million ? 1_000_000 : backlog,
            payloads,
            clients,
            e2eRate,
            e2eDuration,
            e2eWarmup,
            duplicates,
            e2eExperiment,
            !noWarmupRound,
            kafkaHeap,
            output,
            commandLine,
            gruelboxBacklog,
            peerBacklog,
            peerE2eDuration,
            modulithBacklog,
            e2eLoads.stream().filter(p -> p > 0).toList(),
            soak,
            !noSweep);
    // --quick sets the sizes; a --workloads, --output or --kafka-heap given with it still applies
    return quick ? BenchOptions.quick(options) : options;
  }

  private void notEmpty(String option, Collection<?> values) {
    if (values.isEmpty()) {
      throw new ParameterException(spec.commandLine(), option + ": needs at least one value");
    }
  }

  /**
   * The problem a {@link ParameterException} reports, worded for the user: a wrong value as {@code
   * --option: what is wrong}, anything else (an unknown option, a missing value) in picocli's
   * words.
   */
  static String message(ParameterException e) {
    if (e.getCause() instanceof TypeConversionException wrong
        && e.getArgSpec() instanceof OptionSpec option) {
      return option.longestName() + ": " + wrong.getMessage();
    }
    return e.getMessage();
  }

  /** {@code W0}, {@code w3}, ... or {@code all}, as the workload's name or {@code all}. */
  static final class WorkloadName implements ITypeConverter<String> {
    @Override
    public String convert(String text) {
      if (text.strip().equalsIgnoreCase("all")) {
        return "all";
      }
      try {
        return Workload.parse(text).name();
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** A whole number of at least 1. */
  static final class PositiveInt implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String text) {
      return wholeNumber(text, 1);
    }
  }

  /** A duplicate share in percent, from 1 to 99. */
  static final class DuplicateShare implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String text) {
      int p = wholeNumber(text, 1);
      if (p >= 100) {
        throw new TypeConversionException("a duplicate share must be below 100%, was " + p);
      }
      return p;
    }
  }

  /** A share of the relay's drain in percent, from 0 (no loaded run) to 100. */
  static final class LoadShare implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String text) {
      int p = wholeNumber(text, 0);
      if (p > 100) {
        throw new TypeConversionException(
            "a share of the drain above 100% cannot be sustained, was " + p);
      }
      return p;
    }
  }

  private static int wholeNumber(String text, int min) {
    int n;
    try {
      n = Integer.parseInt(text.strip());
    } catch (NumberFormatException e) {
      throw new TypeConversionException("'" + text + "' is not a whole number");
    }
    if (n < min) {
      throw new TypeConversionException("must be at least " + min + ", was " + text);
    }
    return n;
  }

  /** A rate of more than zero per second. */
  static final class PositiveRate implements ITypeConverter<Double> {
    @Override
    public Double convert(String text) {
      double n;
      try {
        n = Double.parseDouble(text.strip());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("'" + text + "' is not a number");
      }
      if (!(n > 0) || Double.isInfinite(n)) {
        throw new TypeConversionException("must be positive, was " + text);
      }
      return n;
    }
  }

  /** A duration of zero or more in Courier's one syntax ({@link Durations}). */
  static final class AnyDuration implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      try {
        return Durations.parse("duration", text);
      } catch (ConfigurationException e) {
        throw new TypeConversionException(e.reason());
      }
    }
  }

  /** A duration of more than zero in Courier's one syntax ({@link Durations}). */
  static final class PositiveDuration implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      try {
        return Durations.parsePositive("duration", text);
      } catch (ConfigurationException e) {
        throw new TypeConversionException(e.reason());
      }
    }
  }

  /** A JVM heap size: {@code 512m}, {@code 1g}. */
  static final class HeapSize implements ITypeConverter<String> {
    @Override
    public String convert(String text) {
      if (!text.matches("[1-9][0-9]*[kKmMgG]?")) {
        throw new TypeConversionException("must look like 512m or 1g, was " + text);
      }
      return text;
    }
  }

  /** {@code lease} or {@code log}, in any letter case. */
  static final class SoakClaimMode implements ITypeConverter<Relay.ClaimMode> {
    @Override
    public Relay.ClaimMode convert(String text) {
      return switch (text.strip().toLowerCase(Locale.ROOT)) {
        case "lease" -> Relay.ClaimMode.LEASE;
        case "log" -> Relay.ClaimMode.LOG;
        default -> throw new TypeConversionException("must be lease or log, was " + text);
      };
    }
  }

  /** A file that exists: the document whose results section is rewritten. */
  static final class ExistingFile implements ITypeConverter<Path> {
    @Override
    public Path convert(String text) {
      Path file = Path.of(text);
      if (!Files.isRegularFile(file)) {
        throw new TypeConversionException("no such file " + file);
      }
      return file;
    }
  }
}
