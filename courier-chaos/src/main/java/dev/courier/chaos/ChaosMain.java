package dev.courier.chaos;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The long profile of the chaos verification, {@code ./courier chaos}: runs the scenarios of {@link Scenarios} on one
 * or all transports, for several seeds, at a chosen size, and writes a report in text and JSON.
 *
 * <pre>
 * ./courier chaos [--transport kafka|rabbitmq|nats|all] [--events N] [--duration D] [--seeds N] [--seed S]
 *                 [--scenario NAME[,NAME...]] [--claim-mode lease|lock|log[,...]] [--report-dir DIR]
 * </pre>
 *
 * <p>{@link ChaosCommand} holds the options; {@code --help} lists them, with the scenarios.
 *
 * <ul>
 *   <li>{@code --events}: business transactions the writer attempts per scenario run (default 10,000; ~6% roll
 *       back, one in 1,000 is poison);</li>
 *   <li>{@code --duration}: how long the writer takes to attempt them, which sets its pace (events / duration);
 *       faults land inside that window, and a run lasts that long plus start-up, drain and check. Without it the
 *       writer goes at 1,000 attempts a second, as in the CI profile;</li>
 *   <li>{@code --seeds}: how many seeds each scenario runs with; seed {@code i} is {@code S + i} where {@code S} is
 *       {@code --seed} (default: drawn from the clock and printed), so {@code --seeds 1 --seed X} reruns a seed;</li>
 *   <li>{@code --claim-mode}: how the relays hold their claims; several modes run each scenario once per mode
 *       (default: the environment's {@code COURIER_RELAY_CLAIM_MODE}, else {@code lease}). A {@code log} run turns its
 *       outbox to log mode with 16 partitions, starts three relays wherever a scenario names one, and asserts per-key
 *       order wherever the transport keeps it;</li>
 *   <li>{@code --report-dir}: where {@code chaos-report.txt}, {@code chaos-report.json} and each run's full checker
 *       report ({@code <transport>/<scenario>-<seed>.txt|json}) go (default {@code chaos-reports}).</li>
 * </ul>
 *
 * <p>Exit status: 0 when every run kept every promise (lost, unexpected, duplicated effects and unexpected dead
 * letters all 0, order kept where promised, drained in time), 1 on any anomaly or failed run, 2 on a usage error.
 * Needs PostgreSQL (the local server, or {@code COURIER_DB_URL}), the local RabbitMQ for {@code rabbitmq} (its
 * application is stopped and started by one scenario) and {@code /usr/sbin/nats-server} for {@code nats}.
 */
public final class ChaosMain {

    private static final Logger LOG = LoggerFactory.getLogger(ChaosMain.class);

    private ChaosMain() {
    }

    /** The settings of one invocation. */
    record Settings(List<String> transports, int events, Duration duration, int seeds, long firstSeed,
            List<String> scenarios, List<String> claimModes, Path reportDir) {

        int perSecond() {
            if (duration == null) {
                return 1_000;
            }
            return (int) Math.max(1, Math.round(events * 1000.0 / Math.max(1, duration.toMillis())));
        }

        Duration writerTime() {
            return Duration.ofMillis(events * 1000L / perSecond());
        }
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        Settings settings;
        try {
            settings = parse(args);
        } catch (IllegalArgumentException e) {
            err.println("courier chaos: " + e.getMessage());
            if (e.getCause() instanceof ParameterException p) {
                UnmatchedArgumentException.printSuggestions(p, err);
            }
            err.print(usage());
            return 2;
        }
        if (settings == null) {
            out.print(usage());
            return 0;
        }
        try {
            return execute(settings, out);
        } catch (IOException e) {
            err.println("courier chaos: cannot write the report: " + e.getMessage());
            return 1;
        }
    }

    /** The usage text ({@link ChaosCommand} has the options), ending with the scenarios. */
    static String usage() {
        return ChaosCommand.usage();
    }

    /**
     * Parses a command line.
     *
     * @return the settings, or {@code null} when {@code --help} was asked for
     * @throws IllegalArgumentException naming the option at fault, caused by picocli's {@link ParameterException}
     */
    static Settings parse(String[] args) {
        try {
            ChaosCommand command = ChaosCommand.parse(args);
            return command.help ? null : command.settings();
        } catch (ParameterException e) {
            throw new IllegalArgumentException(ChaosCommand.message(e), e);
        }
    }

    private static int execute(Settings settings, PrintStream out) throws IOException {
        Files.createDirectories(settings.reportDir());
        System.setProperty(ChaosRun.CHILDREN_DIR_PROPERTY, settings.reportDir().resolve("children").toString());
        Instant started = Instant.now();
        out.printf("courier chaos: transports %s, claim modes %s, %d attempts per run at %d a second (writer ~%d s),"
                        + " %d seed(s) from %d, reports in %s%n", settings.transports(), settings.claimModes(),
                settings.events(), settings.perSecond(), settings.writerTime().toSeconds(), settings.seeds(),
                settings.firstSeed(), settings.reportDir().toAbsolutePath());
        List<Map<String, Object>> runs = new ArrayList<>();
        boolean allPassed = true;
        // stopped (Ctrl-C, SIGTERM): the brokers and children go down with this JVM, so what runs after that point
        // fails for that reason alone; such runs are left out of the report, which keeps what was measured before
        AtomicReference<Boolean> stopping = new AtomicReference<>(false);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stopping.set(true), "chaos-stop"));
        for (String transport : settings.transports()) {
            List<Scenarios.Scenario> scenarios = Scenarios.of(transport).stream()
                    .filter(s -> settings.scenarios().isEmpty() || settings.scenarios().contains(s.name())).toList();
            if (scenarios.isEmpty()) {
                continue;
            }
            try (ChaosBroker broker = startBroker(transport)) {
                for (int i = 0; i < settings.seeds(); i++) {
                    long seed = settings.firstSeed() + i;
                    for (Scenarios.Scenario scenario : scenarios) {
                        for (String mode : settings.claimModes()) {
                            Map<String, Object> row = runOne(settings, broker, scenario, mode, seed);
                            if (stopping.get()) {
                                return 1;
                            }
                            allPassed &= Boolean.TRUE.equals(row.get("passed"));
                            runs.add(row);
                            out.println(line(row));
                            writeReports(settings, started, runs, allPassed, false);
                        }
                    }
                }
            } catch (RuntimeException e) {
                // a broker that cannot start fails the transport, not the whole invocation
                LOG.error("{}: {}", transport, e.toString(), e);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("transport", transport);
                row.put("scenario", "(broker)");
                row.put("passed", false);
                row.put("error", e.toString());
                runs.add(row);
                allPassed = false;
                out.println(line(row));
            }
        }
        writeReports(settings, started, runs, allPassed, true);
        out.printf("courier chaos: %d run(s), %s; report %s%n", runs.size(), allPassed ? "ALL PASSED" : "ANOMALIES",
                settings.reportDir().resolve("chaos-report.txt").toAbsolutePath());
        return allPassed ? 0 : 1;
    }

    private static ChaosBroker startBroker(String transport) {
        return switch (transport) {
            case Scenarios.KAFKA -> KafkaBroker.start();
            case Scenarios.RABBITMQ -> RabbitMqBroker.local();
            case Scenarios.NATS -> NatsBroker.start();
            default -> throw new IllegalArgumentException(transport);
        };
    }

    private static Map<String, Object> runOne(Settings settings, ChaosBroker broker, Scenarios.Scenario scenario,
            String claimMode, long seed) {
        AtomicReference<ChaosRun> current = new AtomicReference<>();
        Duration writerTime = settings.writerTime();
        Duration longer = writerTime.plusMinutes(1);
        String error = null;
        try {
            Scenarios.run(scenario.name(), broker, seed, settings.events(), settings.perSecond(), run -> {
                current.set(run);
                run.claimMode(claimMode);
                run.reportsTo(settings.reportDir())
                        .writerBound(max(ChaosRun.WRITER_BOUND, writerTime.multipliedBy(2)))
                        .progressBound(max(Duration.ofMinutes(2), longer));
            });
        } catch (AssertionError | RuntimeException e) {
            error = e.getMessage() == null ? e.toString() : e.getMessage();
            LOG.error("{} {} in claim mode {} seed {} FAILED:\n{}", broker.transport(), scenario.name(), claimMode, seed,
                    error);
        }
        ChaosRun.Outcome o = current.get() == null ? null : current.get().outcome();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("transport", broker.transport());
        row.put("scenario", scenario.name());
        row.put("claimMode", claimMode);
        row.put("seed", seed);
        row.put("attempts", settings.events());
        row.put("orderAsserted", scenario.ordered(broker.transport(), claimMode));
        row.put("keyOrderAsserted", claimMode.equals("log") && scenario.keyOrdered(broker.transport()));
        if (o != null) {
            row.put("relays", o.relays());
            row.put("committed", o.committed());
            row.put("rolledBack", o.rolledBack());
            row.put("poison", o.poison());
            row.put("faultsInjected", o.faults());
            row.put("wireDuplicatesAbsorbed", o.wireDuplicates());
            row.put("keyOrderViolations", o.keyOrderViolations());
            row.put("drainMillis", o.drainMillis());
            row.put("elapsedSeconds", o.elapsedSeconds());
            row.put("drained", o.drained());
            row.put("report", broker.transport() + "/" + current.get().reportName() + ".json");
        }
        boolean passed = error == null && o != null && o.passed();
        row.put("passed", passed);
        row.put("rerun", "./courier chaos --transport " + broker.transport() + " --scenario " + scenario.name()
                + " --claim-mode " + claimMode + " --seeds 1 --seed " + seed + " --events " + settings.events()
                + (settings.duration() == null ? "" : " --duration " + settings.duration().toSeconds() + "s"));
        if (error != null) {
            // the first lines name the anomaly; the full history is in the run's own report
            row.put("error", error.lines().limit(12).reduce((a, b) -> a + "\n" + b).orElse(error));
        }
        return row;
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    private static String line(Map<String, Object> row) {
        return String.format("%-9s %-32s %-5s seed %-14s committed %7s rolled back %6s poison %4s faults %3s wire"
                        + " duplicates %6s key order violations %3s%s drain %7s ms elapsed %5s s %s",
                row.get("transport"), row.get("scenario"), row.getOrDefault("claimMode", "-"),
                row.getOrDefault("seed", "-"), row.getOrDefault("committed", "-"),
                row.getOrDefault("rolledBack", "-"), row.getOrDefault("poison", "-"),
                row.getOrDefault("faultsInjected", "-"), row.getOrDefault("wireDuplicatesAbsorbed", "-"),
                row.getOrDefault("keyOrderViolations", "-"),
                Boolean.TRUE.equals(row.get("keyOrderAsserted")) ? "" : " (not asserted)",
                row.getOrDefault("drainMillis", "-"), row.getOrDefault("elapsedSeconds", "-"),
                Boolean.TRUE.equals(row.get("passed")) ? "PASSED" : "FAILED");
    }

    private static void writeReports(Settings settings, Instant started, List<Map<String, Object>> runs,
            boolean allPassed, boolean finished) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("started", started.toString());
        json.put("finished", finished ? Instant.now().toString() : null);
        json.put("transports", settings.transports());
        json.put("claimModes", settings.claimModes());
        json.put("attemptsPerRun", settings.events());
        json.put("writerPerSecond", settings.perSecond());
        json.put("writerSeconds", settings.writerTime().toSeconds());
        json.put("seeds", settings.seeds());
        json.put("firstSeed", settings.firstSeed());
        json.put("scenarios", settings.scenarios().isEmpty() ? "all" : settings.scenarios());
        json.put("passed", allPassed);
        json.put("runs", runs);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.writeString(settings.reportDir().resolve("chaos-report.json"), mapper.writeValueAsString(json),
                StandardCharsets.UTF_8);
        StringBuilder text = new StringBuilder();
        text.append("courier chaos, started ").append(started).append(finished ? ", finished " + Instant.now() : ""
                + " (in progress)").append('\n');
        text.append(String.format("transports %s, claim modes %s, %d attempts per run, writer at %d a second (~%d s),"
                        + " %d seed(s) from %d%n%n", settings.transports(), settings.claimModes(), settings.events(),
                settings.perSecond(),
                settings.writerTime().toSeconds(), settings.seeds(), settings.firstSeed()));
        for (Map<String, Object> row : runs) {
            text.append(line(row)).append('\n');
            if (row.containsKey("error")) {
                text.append("    ").append(row.get("error").toString().replace("\n", "\n    ")).append('\n');
                text.append("    rerun: ").append(row.get("rerun")).append('\n');
            }
        }
        text.append('\n').append(summary(runs)).append('\n');
        text.append(allPassed ? "ALL PASSED\n" : "ANOMALIES: see the FAILED lines and their reports\n");
        Files.writeString(settings.reportDir().resolve("chaos-report.txt"), text.toString(), StandardCharsets.UTF_8);
    }

    /**
     * Per transport, scenario and claim mode: runs, passed, total faults, wire duplicates and key order violations, the
     * longest drain.
     */
    private static String summary(List<Map<String, Object>> runs) {
        Map<String, long[]> byScenario = new LinkedHashMap<>();
        for (Map<String, Object> row : runs) {
            long[] t = byScenario.computeIfAbsent(row.get("transport") + " " + row.get("scenario") + " "
                    + row.getOrDefault("claimMode", "-"), k -> new long[7]);
            t[0]++;
            t[1] += Boolean.TRUE.equals(row.get("passed")) ? 1 : 0;
            t[2] += number(row.get("committed"));
            t[3] += number(row.get("faultsInjected"));
            t[4] += number(row.get("wireDuplicatesAbsorbed"));
            t[5] = Math.max(t[5], number(row.get("drainMillis")));
            t[6] += number(row.get("keyOrderViolations"));
        }
        StringBuilder sb = new StringBuilder(String.format("%-48s %5s %6s %10s %7s %10s %10s %10s%n",
                "transport scenario claim-mode", "runs", "passed", "committed", "faults", "wire dups", "key order",
                "max drain"));
        byScenario.forEach((k, t) -> sb.append(String.format("%-48s %5d %6d %10d %7d %10d %10d %7d ms%n", k, t[0],
                t[1], t[2], t[3], t[4], t[6], t[5])));
        return sb.toString();
    }

    private static long number(Object o) {
        return o instanceof Number n ? n.longValue() : 0;
    }
}
