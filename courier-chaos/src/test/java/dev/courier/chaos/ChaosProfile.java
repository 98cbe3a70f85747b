package dev.courier.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.testkit.chaos.CheckReport;
import org.junit.jupiter.api.Assumptions;

/**
 * The CI profile's sizes and the verdict every chaos test asserts, shared by {@link KafkaChaosTest},
 * {@link RabbitMqChaosTest} and {@link NatsChaosTest}.
 *
 * <p>System properties: {@code courier.chaos.events} (attempts per scenario, default 10,000, the CI size),
 * {@code courier.chaos.logEvents} (attempts per log-mode run, default 5,000: those runs start three relays, and the
 * CI budget holds five of them at that size), {@code courier.chaos.seed} (default: a new seed per scenario, printed),
 * {@code courier.chaos.scenario} (run only the scenario of that name, to reproduce a failure),
 * {@code courier.chaos.claimMode} (run only the runs in that claim mode, {@code lease}, {@code lock} or {@code log}),
 * {@code courier.chaos.perSecond} (the writer's pace, default 1,000 attempts a second).
 */
final class ChaosProfile {

    /**
     * The JUnit tag of scenarios that repeat a covered fault in another claim mode; the default build leaves them out
     * to keep CI short, and {@code -Pchaos-extended} runs them.
     */
    static final String EXTENDED = "extended";

    static final int EVENTS = Integer.getInteger("courier.chaos.events", 10_000);
    static final int LOG_EVENTS = Integer.getInteger("courier.chaos.logEvents", 5_000);
    static final String ONLY_MODE = System.getProperty("courier.chaos.claimMode");
    static final Long SEED = Long.getLong("courier.chaos.seed");
    static final String ONLY = System.getProperty("courier.chaos.scenario");
    static final int PER_SECOND = Integer.getInteger("courier.chaos.perSecond", 1_000);

    private ChaosProfile() {
    }

    /** Runs one scenario of the catalogue with the profile's sizes and asserts the common verdict. */
    static CheckReport run(String scenario, ChaosBroker broker) {
        return run(scenario, broker, null);
    }

    /**
     * As {@link #run(String, ChaosBroker)}, with the run's relays in claim mode {@code claimMode} (null: default, the
     * environment's {@code COURIER_RELAY_CLAIM_MODE} or lease). A log-mode run has {@link #LOG_EVENTS} attempts and
     * three relays, and asserts per-key order wherever the transport keeps it.
     */
    static CheckReport run(String scenario, ChaosBroker broker, String claimMode) {
        Assumptions.assumeTrue(ONLY == null || ONLY.equals(scenario), () -> "only " + ONLY + " runs");
        String mode = claimMode != null ? claimMode
                : System.getenv().getOrDefault("COURIER_RELAY_CLAIM_MODE", "lease").toLowerCase(java.util.Locale.ROOT);
        Assumptions.assumeTrue(ONLY_MODE == null || ONLY_MODE.equals(mode), () -> "only claim mode " + ONLY_MODE
                + " runs");
        long seed = SEED != null ? SEED : System.nanoTime() ^ scenario.hashCode();
        CheckReport report = Scenarios.run(scenario, broker, seed, mode.equals("log") ? LOG_EVENTS : EVENTS,
                PER_SECOND, claimMode == null ? null : run -> run.claimMode(claimMode));
        assertClean(report);
        if (mode.equals("log") && Scenarios.named(scenario).keyOrdered(broker.transport())) {
            assertThat(report.history().keyOrdered()).as("log mode's order promised").isTrue();
            assertThat(report.keyOrderViolations()).as("key order violations (first arrivals out of write order)")
                    .isEmpty();
        }
        return report;
    }

    static void assertClean(CheckReport report) {
        assertThat(report.passed()).as("the checker's verdict").isTrue();
        assertThat(report.lost()).as("lost").isEmpty();
        assertThat(report.unexpected()).as("unexpected").isEmpty();
        assertThat(report.duplicatedEffects()).as("duplicated effects").isZero();
        assertThat(report.rolledBack()).as("rolled-back transactions").isPositive();
    }

    /** The baseline's extra checks: one poison event per 1,000 attempts, each dead-lettered. */
    static void assertPoisonDeadLettered(CheckReport report) {
        assertThat(report.poison()).as("one poison event per 1,000 attempts")
                .isBetween((long) EVENTS / 1_000, EVENTS / 1_000 + 1L);
        assertThat(report.poisonDeadLettered()).isEqualTo(report.poison());
    }
}
