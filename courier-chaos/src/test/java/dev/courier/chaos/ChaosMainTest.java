package dev.courier.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The options of {@code ./courier chaos}: what they mean and what is refused (no servers needed). */
class ChaosMainTest {

    @Test
    void longProfileOptions_setTheSizesSeedsAndTheWritersPace() {
        ChaosMain.Settings s = ChaosMain.parse(new String[] {"--transport", "nats", "--events", "100000",
                "--duration", "300s", "--seeds", "20", "--seed", "7", "--scenario", "baseline,broker-link-faults",
                "--report-dir", "out"});

        assertThat(s.transports()).containsExactly("nats");
        assertThat(s.events()).isEqualTo(100_000);
        assertThat(s.seeds()).isEqualTo(20);
        assertThat(s.firstSeed()).isEqualTo(7);
        assertThat(s.scenarios()).containsExactly("baseline", "broker-link-faults");
        assertThat(s.reportDir()).isEqualTo(Path.of("out"));
        // the duration is the writer's run time: 100,000 attempts over 300 s
        assertThat(s.perSecond()).isEqualTo(333);
        assertThat(s.writerTime()).isBetween(Duration.ofSeconds(299), Duration.ofSeconds(301));
    }

    @Test
    void withoutOptions_everyTransportRunsOnceAtTheCiProfilesSizeAndPace() {
        ChaosMain.Settings s = ChaosMain.parse(new String[0]);

        assertThat(s.transports()).containsExactly("kafka", "rabbitmq", "nats");
        assertThat(s.events()).isEqualTo(10_000);
        assertThat(s.seeds()).isEqualTo(1);
        assertThat(s.perSecond()).isEqualTo(1_000);
        assertThat(s.scenarios()).isEmpty();
    }

    @Test
    void claimModes_lease_lock_andLog_eachRunEveryChosenScenario() {
        ChaosMain.Settings s = ChaosMain.parse(new String[] {"--claim-mode", "lease,LOG", "--scenario", "baseline"});

        assertThat(s.claimModes()).containsExactly("lease", "log");
        assertThat(ChaosMain.usage()).contains("--claim-mode");
    }

    @Test
    void inLogMode_keyOrderIsAssertedInEveryKafkaScenario_andElsewhereOnlyWhereTheConsumerKeepsIt() {
        for (Scenarios.Scenario scenario : Scenarios.of("kafka")) {
            assertThat(scenario.ordered("kafka", "log")).as(scenario.name()).isTrue();
        }
        assertThat(Scenarios.named("relay-paused-beyond-lease").ordered("nats", "log")).isTrue();
        assertThat(Scenarios.named("relay-paused-beyond-lease").ordered("nats", "lease")).as("two relays").isFalse();
        assertThat(Scenarios.named("broker-link-faults").ordered("rabbitmq", "log")).as("consumer redeliveries")
                .isFalse();
    }

    @Test
    void durations_takeAUnit_andABareNumberOrZeroIsRefused() {
        assertThat(duration("300s")).isEqualTo(Duration.ofSeconds(300));
        assertThat(duration("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(duration("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(duration("4m30s")).isEqualTo(Duration.ofSeconds(270));
        assertThatThrownBy(() -> duration("soon")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--duration: 'soon' is not a duration");
        assertThatThrownBy(() -> duration("300")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--duration: '300' has no unit; write it like 300s or 300ms");
        assertThatThrownBy(() -> duration("0s")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--duration: must be more than zero, was '0s'");
    }

    private static Duration duration(String text) {
        return ChaosMain.parse(new String[] {"--duration", text}).duration();
    }

    @Test
    void wrongValues_areRefused_withAMessageThatStartsWithTheOption() {
        assertRefused(List.of("--transport", "kafkaa"),
                "--transport: must be kafka, rabbitmq, nats or all, was kafkaa");
        assertRefused(List.of("--events", "10"),
                "--events: must be at least 1000 (faults are placed by progress), was 10");
        assertRefused(List.of("--seeds", "none"), "--seeds: must be a number, was none");
        assertRefused(List.of("--seeds", "0"), "--seeds: must be positive, was 0");
        assertRefused(List.of("--claim-mode", "lease,fast"), "--claim-mode: must be lease, lock or log, was fast");
        assertThatThrownBy(() -> ChaosMain.parse(new String[] {"--scenario", "baseline,nope"}))
                .hasMessageStartingWith("--scenario: no chaos scenario nope; known: [");
    }

    @Test
    void unknownOptionsAndMissingValues_areRefusedInPicocliWords() {
        assertRefused(List.of("--colour", "red"), "Unknown options: '--colour', 'red'");
        assertRefused(List.of("--seeds"), "Missing required parameter for option '--seeds' (N)");
    }

    @Test
    void valuesMayFollowAnEqualsSign_andCountsUnderscores() {
        ChaosMain.Settings s = ChaosMain.parse(new String[] {"--transport=kafka", "--events=10_000", "--seed=-3",
                "--claim-mode=LOCK", "--duration=PT5M"});

        assertThat(s.transports()).containsExactly("kafka");
        assertThat(s.events()).isEqualTo(10_000);
        assertThat(s.firstSeed()).isEqualTo(-3);
        assertThat(s.claimModes()).containsExactly("lock");
        assertThat(s.duration()).isEqualTo(Duration.ofMinutes(5));
        assertThat(s.reportDir()).isEqualTo(Path.of("chaos-reports"));
    }

    @Test
    void help_listsTheOptionsAndTheScenarios_andRunsNothing() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ChaosMain.run(new String[] {"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));

        assertThat(status).isZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("usage: courier chaos [OPTIONS]")
                .contains("--transport=kafka|rabbitmq|nats|all", "(default all)", "--events=N", "(default 10000;",
                        "~6%", "--duration=D", "--seeds=N", "--seed=S", "--scenario=NAME[,NAME...]",
                        "--claim-mode=MODE[,MODE...]", "--report-dir=DIR", "(default chaos-reports)",
                        "relay-killed-20-40-60", "[kafka, rabbitmq, nats]");
        assertThat(ChaosMain.parse(new String[] {"--help"})).isNull();
    }

    private static void assertRefused(List<String> args, String message) {
        assertThatThrownBy(() -> ChaosMain.parse(args.toArray(String[]::new))).as("%s", args)
                .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @Test
    void unknownTransportScenarioOrOption_isAUsageError_withExitStatus2() {
        for (List<String> args : List.of(List.of("--transport", "kafkaa"), List.of("--scenario", "nope"),
                List.of("--events", "10"), List.of("--colour", "red"), List.of("--seeds"),
                List.of("--claim-mode", "fast"))) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = ChaosMain.run(args.toArray(String[]::new), new PrintStream(new ByteArrayOutputStream()),
                    new PrintStream(err, true, StandardCharsets.UTF_8));

            assertThat(status).as("exit status of %s", args).isEqualTo(2);
            assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("courier chaos: ").contains("usage:");
        }
    }

    @Test
    void everyTransportHasTheScenariosTheIssueAsksFor() {
        for (String transport : Scenarios.TRANSPORTS) {
            List<String> names = Scenarios.of(transport).stream().map(Scenarios.Scenario::name).toList();
            assertThat(names).as(transport).contains("baseline", "relay-killed-20-40-60", "relay-paused-beyond-lease",
                    "consumer-killed-before-ack", "consumer-killed-at-random").hasSizeGreaterThanOrEqualTo(8);
            assertThat(names).as(transport).anyMatch(n -> n.startsWith("broker-") && n.endsWith("-and-restarted"));
        }
        assertThat(Scenarios.named("baseline").ordered("rabbitmq")).isTrue();
        assertThat(Scenarios.named("consumer-killed-at-random").ordered("rabbitmq")).isFalse();
        assertThat(Scenarios.named("consumer-killed-at-random").ordered("kafka")).isTrue();
    }
}
