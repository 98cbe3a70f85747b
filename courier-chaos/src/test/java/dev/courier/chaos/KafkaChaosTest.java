package dev.courier.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import dev.courier.testkit.EmbeddedKafka;
import dev.courier.testkit.chaos.CheckReport;
import dev.courier.testkit.chaos.FaultProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The CI profile of the chaos verification on Kafka: each scenario runs the writer, the relay(s) and the consumer(s)
 * as separate JVMs against the real PostgreSQL and a real KRaft broker in a child JVM, injects its faults, and asserts
 * the checker's verdict on database truth: lost = 0, unexpected = 0, duplicated effects = 0 (and per-key order where
 * one relay promises it).
 *
 * <p>Every scenario has about 6% rolled-back business transactions and a poison event every 1,000 attempts. Sizes and
 * seeds come from system properties: {@code courier.chaos.events} (attempts per scenario, default 10,000, the issue's
 * CI size), {@code courier.chaos.seed} (default: a new seed per scenario, printed) and
 * {@code courier.chaos.scenario} (run only the scenario of that name, to reproduce a failure),
 * {@code courier.chaos.perSecond} (the writer's pace, default 1,000 attempts a second).
 */
class KafkaChaosTest {

    private static final int EVENTS = Integer.getInteger("courier.chaos.events", 10_000);
    private static final Long SEED = Long.getLong("courier.chaos.seed");
    private static final String ONLY = System.getProperty("courier.chaos.scenario");
    private static final int PER_SECOND = Integer.getInteger("courier.chaos.perSecond", 1_000);

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startBroker() {
        kafka = EmbeddedKafka.builder().partitions(ChaosRun.PARTITIONS).maxHeap("384m").start();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    private ChaosRun run(String scenario, boolean ordered) {
        Assumptions.assumeTrue(ONLY == null || ONLY.equals(scenario), () -> "only " + ONLY + " runs");
        long seed = SEED != null ? SEED : System.nanoTime() ^ scenario.hashCode();
        return new ChaosRun(scenario, seed, EVENTS, ordered, kafka);
    }

    private static void assertClean(CheckReport report) {
        assertThat(report.lost()).as("lost").isEmpty();
        assertThat(report.unexpected()).as("unexpected").isEmpty();
        assertThat(report.duplicatedEffects()).as("duplicated effects").isZero();
        assertThat(report.rolledBack()).as("rolled-back transactions").isPositive();
    }

    @Test
    void baseline_withRollbacksAndPoison_deliversEveryCommittedEventOnce_inKeyOrder() {
        try (ChaosRun run = run("baseline", true)) {
            run.startAll(PER_SECOND);
            CheckReport report = run.finish();
            assertClean(report);
            assertThat(report.poison()).as("one poison event per 1,000 attempts").isBetween((long) EVENTS / 1_000, EVENTS / 1_000 + 1L);
            assertThat(report.poisonDeadLettered()).isEqualTo(report.poison());
        }
    }

    @Test
    void relayKilledAt20_40_60PercentAndRestarted_losesNothing_andAppliesEachEffectOnce() {
        try (ChaosRun run = run("relay-killed-20-40-60", true)) {
            run.startAll(PER_SECOND);
            for (double share : new double[] {0.2, 0.4, 0.6}) {
                double at = run.around(share, 0.03);
                run.awaitPublished(at);
                run.harness.kill("relay-1", String.format("at %.0f%% published", at * 100));
                run.harness.restart("relay-1");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void writerKilledMidTransactionTwiceAndRestarted_publishesExactlyTheCommittedChanges() {
        try (ChaosRun run = run("writer-killed", true)) {
            run.startAll(PER_SECOND);
            for (double share : new double[] {0.3, 0.6}) {
                run.awaitCommitted(run.around(share, 0.05));
                run.harness.kill("writer", "mid-stream");
                run.harness.restart("writer");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void relayPausedLongerThanItsLease_whileASecondRelayTakesOver_costsOnlyWireDuplicates() {
        try (ChaosRun run = run("relay-paused-beyond-lease", false)) {
            run.startConsumer("consumer-1", null);
            run.startRelay("relay-1", null, "leaseMillis=4000", "publishTimeoutMillis=2000");
            run.startRelay("relay-2", null, "leaseMillis=4000", "publishTimeoutMillis=2000");
            run.startWriter(PER_SECOND);
            run.awaitPublished(run.around(0.3, 0.05));
            run.pauseWhileHoldingClaims("relay-1", "for over twice its 4 s lease");
            ChaosRun.sleep(run.between(Duration.ofMillis(8_500), Duration.ofMillis(10_000)));
            run.harness.resume("relay-1");
            assertClean(run.finish());
        }
    }

    @Test
    void consumerKilledAfterItsEffectCommitsAndBeforeItsOffsetCommit_isRedelivered_andTheLedgerDedupes()
            throws IOException {
        try (ChaosRun run = run("consumer-killed-before-ack", true)) {
            Path marker = Files.createTempFile("chaos-crash-", ".marker");
            Files.delete(marker);
            long crashAfter = Math.round(run.expectedCommitted() * run.around(0.3, 0.1));
            run.startConsumer("consumer-1", null, "crashAfterEffects=" + crashAfter, "markerFile=" + marker);
            run.startRelay("relay-1", null);
            run.startWriter(PER_SECOND);
            run.await("the consumer at its crash point", Duration.ofMinutes(2), () -> Files.exists(marker));
            run.harness.kill("consumer-1", "after effect " + crashAfter + " committed, before its offset commit");
            run.harness.restart("consumer-1");
            CheckReport report = run.finish();
            assertClean(report);
            Files.deleteIfExists(marker);
        }
    }

    @Test
    void consumerKilledThreeTimesAtRandom_losesNothing_andAppliesEachEffectOnce() {
        try (ChaosRun run = run("consumer-killed-at-random", true)) {
            run.startAll(PER_SECOND);
            for (double share : new double[] {0.2, 0.5, 0.8}) {
                run.awaitApplied("consumer-1", run.around(share, 0.05));
                run.harness.kill("consumer-1", "mid-stream");
                run.harness.restart("consumer-1");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void kafkaBrokerHardKilledAndRestarted_midStream_losesNothing() {
        try (ChaosRun run = run("broker-killed-and-restarted", false)) {
            run.startAll(PER_SECOND);
            run.awaitPublished(run.around(0.4, 0.05));
            int fault = run.harness.recordFault("Kafka broker killed (SIGKILL)");
            kafka.kill();
            ChaosRun.sleep(run.between(Duration.ofSeconds(2), Duration.ofSeconds(5)));
            kafka.restart();
            run.harness.healed(fault);
            assertClean(run.finish());
        }
    }

    @Test
    void kafkaBrokerFrozenWithSigstop_midStream_losesNothing() {
        try (ChaosRun run = run("broker-paused", false)) {
            run.startAll(PER_SECOND);
            run.awaitPublished(run.around(0.4, 0.05));
            int fault = run.harness.recordFault("Kafka broker paused (SIGSTOP)");
            kafka.pause();
            ChaosRun.sleep(run.between(Duration.ofSeconds(3), Duration.ofSeconds(6)));
            kafka.resume();
            run.harness.healed(fault);
            assertClean(run.finish());
        }
    }

    @Test
    void relaysDatabaseBackendsTerminatedMidClaim_threeTimes_losesNothing() {
        try (ChaosRun run = run("relay-backends-terminated", true)) {
            run.startAll(PER_SECOND);
            for (double share : new double[] {0.25, 0.5, 0.75}) {
                run.awaitPublished(run.around(share, 0.05));
                int n = run.terminateBackends(run.relayApp);
                run.harness.recordFault("pg_terminate_backend of the relay's " + n + " backend(s)");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void consumersDatabaseBackendsTerminated_threeTimes_losesNothing_andAppliesEachEffectOnce() {
        try (ChaosRun run = run("consumer-backends-terminated", true)) {
            run.startAll(PER_SECOND);
            for (double share : new double[] {0.25, 0.5, 0.75}) {
                run.awaitApplied("consumer-1", run.around(share, 0.05));
                int n = run.terminateBackends(run.consumerApp);
                run.harness.recordFault("pg_terminate_backend of the consumer's " + n + " backend(s)");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void relaysDatabaseConnectionWithLatency_andSlicedPackets_deliversEverything() throws IOException {
        try (ChaosRun run = run("relay-db-latency-and-slicing", true)) {
            FaultProxy proxy = run.databaseProxy();
            run.startConsumer("consumer-1", null);
            run.startRelay("relay-1", proxy);
            run.startWriter(PER_SECOND);
            run.awaitPublished(run.around(0.2, 0.05));
            int latency = run.harness.recordFault("relay's database link: 25 ms latency each way");
            proxy.latency(Duration.ofMillis(25));
            run.awaitPublished(run.around(0.5, 0.05));
            proxy.heal();
            run.harness.healed(latency);
            int slicing = run.harness.recordFault("relay's database link: writes sliced into 16-byte pieces");
            proxy.slicing(16, Duration.ofMillis(1));
            run.awaitPublished(run.around(0.7, 0.05));
            proxy.heal();
            run.harness.healed(slicing);
            assertClean(run.finish());
        }
    }

    @Test
    void relaysDatabaseConnectionsReset_repeatedly_losesNothing() throws IOException {
        try (ChaosRun run = run("relay-db-reset", false)) {
            FaultProxy proxy = run.databaseProxy();
            run.startConsumer("consumer-1", null);
            run.startRelay("relay-1", proxy);
            run.startWriter(PER_SECOND);
            for (double share : new double[] {0.2, 0.35, 0.5, 0.65, 0.8}) {
                run.awaitPublished(run.around(share, 0.03));
                int n = proxy.resetAll();
                run.harness.recordFault("relay's database link: " + n + " connection(s) reset (RST)");
            }
            assertClean(run.finish());
        }
    }

    @Test
    void relaysDatabaseLinkBlackholed_thenHealed_drainsEverything() throws IOException {
        try (ChaosRun run = run("relay-db-blackhole", false)) {
            FaultProxy proxy = run.databaseProxy();
            run.startConsumer("consumer-1", null);
            run.startRelay("relay-1", proxy, "socketTimeoutSeconds=3");
            run.startWriter(PER_SECOND);
            run.awaitPublished(run.around(0.3, 0.05));
            int fault = run.harness.recordFault("relay's database link blackholed");
            proxy.blackhole(true);
            ChaosRun.sleep(run.between(Duration.ofSeconds(4), Duration.ofSeconds(7)));
            proxy.heal();
            run.harness.healed(fault);
            assertClean(run.finish());
        }
    }

    @Test
    void consumersDatabaseConnectionsResetAndHalfOpen_duringCommits_neverDoubleAnEffect() throws IOException {
        try (ChaosRun run = run("consumer-db-reset-and-half-open", true)) {
            FaultProxy proxy = run.databaseProxy();
            run.startConsumer("consumer-1", proxy, "socketTimeoutSeconds=3");
            run.startRelay("relay-1", null);
            run.startWriter(PER_SECOND);
            for (double share : new double[] {0.2, 0.4, 0.6}) {
                run.awaitApplied("consumer-1", run.around(share, 0.05));
                int n = proxy.resetAll();
                run.harness.recordFault("consumer's database link: " + n + " connection(s) reset (RST)");
            }
            run.awaitApplied("consumer-1", run.around(0.75, 0.03));
            // the database's answers (commit confirmations included) vanish: ambiguous commits
            int halfOpen = run.harness.recordFault("consumer's database link half-open: replies dropped");
            proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true);
            ChaosRun.sleep(run.between(Duration.ofSeconds(2), Duration.ofSeconds(4)));
            proxy.heal();
            proxy.cutAll();
            run.harness.healed(halfOpen);
            assertClean(run.finish());
        }
    }
}
