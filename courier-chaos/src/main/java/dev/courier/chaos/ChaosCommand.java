package dev.courier.chaos;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import dev.courier.ConfigurationException;
import dev.courier.internal.Durations;

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
 * The command line of {@code ./courier chaos}: its options, their defaults and their checks, from which picocli reads
 * the arguments and writes the usage text (which ends with the scenarios and the transports each runs on).
 * {@link #settings()} turns a parsed command line into {@link ChaosMain.Settings}.
 *
 * <p>Only the user's command line is read here. The writer, relay and consumer JVMs that a run starts take
 * {@code name=value} arguments ({@link Args}) written by {@link ChaosRun}: a protocol between the parent and its
 * children, not a command line anyone types.
 */
@Command(name = "courier chaos", abbreviateSynopsis = true, sortOptions = false, usageHelpWidth = 120,
        synopsisHeading = "usage: ",
        description = {"Runs the chaos scenarios on one or all transports, for several seeds, at a chosen size,",
                "and writes a report in text and JSON.", ""},
        footer = {"", "Exit status: 0 every run kept every promise, 1 an anomaly or a failed run, 2 a usage error."})
final class ChaosCommand {

    @Spec
    CommandSpec spec;

    @Option(names = "--transport", paramLabel = "kafka|rabbitmq|nats|all", defaultValue = "all",
            converter = TransportName.class, description = "which transports (default ${DEFAULT-VALUE})")
    String transport;

    @Option(names = "--events", paramLabel = "N", defaultValue = "10000", converter = Events.class,
            description = "business transactions the writer attempts per scenario run, at least 1000 (default "
                    + "${DEFAULT-VALUE}; ~6%% roll back, one in 1,000 is poison)")
    int events;

    @Option(names = "--duration", paramLabel = "D", converter = PositiveDuration.class,
            description = "the writer's run time per scenario run, with a unit (300s, 5m, 1h30m): its pace is "
                    + "events/duration (default: 1000 attempts a second)")
    Duration duration;

    @Option(names = "--seeds", paramLabel = "N", defaultValue = "1", converter = Positive.class,
            description = "seeds per scenario (default ${DEFAULT-VALUE}); seed i is S+i")
    int seeds;

    @Option(names = "--seed", paramLabel = "S", description = "the first seed S (default: from the clock, printed)")
    long firstSeed = System.nanoTime() % 1_000_000_000_000L;

    @Option(names = "--scenario", paramLabel = "NAME", split = ",", converter = ScenarioName.class,
            description = "only these scenarios (default: every scenario of each transport)")
    List<String> scenarios;

    @Option(names = "--claim-mode", paramLabel = "MODE", split = ",",
            defaultValue = "${env:COURIER_RELAY_CLAIM_MODE:-lease}", converter = ClaimMode.class,
            description = "lease, lock or log, or several (each scenario runs once per mode); log: an outbox of 16 "
                    + "partitions shared by three relays, per-key order asserted (default: the environment's "
                    + "COURIER_RELAY_CLAIM_MODE, else lease; here ${DEFAULT-VALUE})")
    List<String> claimModes;

    @Option(names = "--report-dir", paramLabel = "DIR", defaultValue = "chaos-reports",
            description = "where the reports go (default ${DEFAULT-VALUE})")
    Path reportDir;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
    boolean help;

    /**
     * Reads a command line.
     *
     * @throws ParameterException for an unknown option or a wrong value, naming the option
     */
    static ChaosCommand parse(String... args) {
        ChaosCommand command = new ChaosCommand();
        commandLine(command).parseArgs(args);
        return command;
    }

    /** The usage text, ending with the scenarios and the transports each runs on. */
    static String usage() {
        return commandLine(new ChaosCommand()).getUsageMessage();
    }

    private static CommandLine commandLine(ChaosCommand command) {
        CommandLine cl = new CommandLine(command);
        List<String> footer = new ArrayList<>(List.of(cl.getCommandSpec().usageMessage().footer()));
        footer.add("");
        footer.add("scenarios (and the transports they run on):");
        for (Scenarios.Scenario s : Scenarios.all()) {
            footer.add(String.format("  %-34s %s", s.name(), Scenarios.TRANSPORTS.stream().filter(s::runsOn).toList()));
        }
        cl.getCommandSpec().usageMessage().footer(footer.toArray(String[]::new));
        return cl;
    }

    /** What to run. */
    ChaosMain.Settings settings() {
        List<String> transports = transport.equals("all") ? Scenarios.TRANSPORTS : List.of(transport);
        return new ChaosMain.Settings(transports, events, duration, seeds, firstSeed,
                scenarios == null ? List.of() : List.copyOf(scenarios), List.copyOf(claimModes), reportDir);
    }

    /**
     * The problem a {@link ParameterException} reports, worded for the user: a wrong value as {@code --option: what is
     * wrong}, anything else (an unknown option, a missing value) in picocli's words.
     */
    static String message(ParameterException e) {
        if (e.getCause() instanceof TypeConversionException wrong && e.getArgSpec() instanceof OptionSpec option) {
            return option.longestName() + ": " + wrong.getMessage();
        }
        return e.getMessage();
    }

    /** {@code kafka}, {@code rabbitmq}, {@code nats} or {@code all}. */
    static final class TransportName implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            if (!text.equals("all") && !Scenarios.TRANSPORTS.contains(text)) {
                throw new TypeConversionException("must be kafka, rabbitmq, nats or all, was " + text);
            }
            return text;
        }
    }

    /** A scenario of {@link Scenarios}. */
    static final class ScenarioName implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            try {
                return Scenarios.named(text).name();
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code lease}, {@code lock} or {@code log}, in any letter case. */
    static final class ClaimMode implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            String mode = text.toLowerCase(Locale.ROOT);
            if (!List.of("lease", "lock", "log").contains(mode)) {
                throw new TypeConversionException("must be lease, lock or log, was " + text);
            }
            return mode;
        }
    }

    /** A whole number of at least 1; {@code 10_000} may be written with underscores. */
    static final class Positive implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String text) {
            int n = number(text);
            if (n < 1) {
                throw new TypeConversionException("must be positive, was " + text);
            }
            return n;
        }
    }

    /** Attempts per run: faults are placed by progress, so at least 1,000. */
    static final class Events implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String text) {
            int n = number(text);
            if (n < 1_000) {
                throw new TypeConversionException("must be at least 1000 (faults are placed by progress), was " + text);
            }
            return n;
        }
    }

    private static int number(String text) {
        try {
            return Integer.parseInt(text.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new TypeConversionException("must be a number, was " + text);
        }
    }

    /** A duration of more than zero in Courier's one syntax ({@link Durations}); a bare number is refused. */
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
}
