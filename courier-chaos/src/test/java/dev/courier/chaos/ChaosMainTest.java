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
        assertThat(ChaosMain.duration("300s")).isEqualTo(Duration.ofSeconds(300));
        assertThat(ChaosMain.duration("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(ChaosMain.duration("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(ChaosMain.duration("4m30s")).isEqualTo(Duration.ofSeconds(270));
        assertThatThrownBy(() -> ChaosMain.duration("soon")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--duration: 'soon' is not a duration");
        assertThatThrownBy(() -> ChaosMain.duration("300")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--duration: '300' has no unit; write it like 300s or 300ms");
        assertThatThrownBy(() -> ChaosMain.duration("0s")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--duration: must be more than zero, was '0s'");
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
