package dev.courier.chaos;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CI profile of the chaos verification on Kafka: each scenario of {@link Scenarios} that runs on Kafka, with the
 * writer, the relay(s) and the consumer as separate JVMs against the real PostgreSQL and a real KRaft broker in a
 * child JVM; each asserts the checker's verdict on database truth: lost = 0, unexpected = 0, duplicated effects = 0
 * (and per-key order where one relay promises it). The three relay scenarios run again with the relays holding their
 * claims by row locks ({@code claimMode=lock}; tagged {@value ChaosProfile#EXTENDED}, they run with
 * {@code ./mvnw verify -pl courier-chaos -Pchaos-extended}, not in the default build), and the relay scenarios once more in log mode
 * ({@code claimMode=log}: an outbox of 16 partitions shared by three relays), where the checker asserts per-key order
 * as well: per key, the first arrivals at the consumer in write order. Sizes and seeds: see {@link ChaosProfile}.
 */
class KafkaChaosTest {

    private static KafkaBroker kafka;

    @BeforeAll
    static void startBroker() {
        kafka = KafkaBroker.start();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void baseline_withRollbacksAndPoison_deliversEveryCommittedEventOnce_inKeyOrder() {
        ChaosProfile.assertPoisonDeadLettered(ChaosProfile.run("baseline", kafka));
    }

    @Test
    void relayKilledAt20_40_60PercentAndRestarted_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("relay-killed-20-40-60", kafka);
    }

    /** The same with relays holding their claims by row locks: a killed relay's claim transaction rolls back. */
    @Test
    @Tag(ChaosProfile.EXTENDED)
    void relayInLockModeKilledAt20_40_60PercentAndRestarted_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("relay-killed-20-40-60", kafka, "lock");
    }

    @Test
    void writerKilledMidTransactionTwiceAndRestarted_publishesExactlyTheCommittedChanges() {
        ChaosProfile.run("writer-killed", kafka);
    }

    @Test
    void relayPausedLongerThanItsLease_whileASecondRelayTakesOver_costsOnlyWireDuplicates() {
        ChaosProfile.run("relay-paused-beyond-lease", kafka);
    }

    /** In lock mode the frozen relay's claim transaction is ended by PostgreSQL after the lease, freeing its rows. */
    @Test
    @Tag(ChaosProfile.EXTENDED)
    void relayInLockModeFrozenWithItsClaimTransactionOpen_whileASecondRelayTakesOver_costsOnlyWireDuplicates() {
        ChaosProfile.run("relay-paused-beyond-lease", kafka, "lock");
    }

    @Test
    void consumerKilledAfterItsEffectCommitsAndBeforeItsOffsetCommit_isRedelivered_andTheLedgerDedupes() {
        ChaosProfile.run("consumer-killed-before-ack", kafka);
    }

    @Test
    void consumerKilledThreeTimesAtRandom_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("consumer-killed-at-random", kafka);
    }

    @Test
    void kafkaBrokerHardKilledAndRestarted_midStream_losesNothing() {
        ChaosProfile.run("broker-killed-and-restarted", kafka);
    }

    @Test
    void kafkaBrokerFrozenWithSigstop_midStream_losesNothing() {
        ChaosProfile.run("broker-paused", kafka);
    }

    @Test
    void relaysDatabaseBackendsTerminatedMidClaim_threeTimes_losesNothing() {
        ChaosProfile.run("relay-backends-terminated", kafka);
    }

    @Test
    @Tag(ChaosProfile.EXTENDED)
    void relaysDatabaseBackendsInLockModeTerminatedMidClaim_threeTimes_losesNothing() {
        ChaosProfile.run("relay-backends-terminated", kafka, "lock");
    }

    /** Log mode: one of three relays killed each time (relay-1, -2, -3 in turn); its partitions wait for its lease. */
    @Test
    void threeRelaysInLogMode_eachKilledOnceAt20_40_60Percent_loseNothing_applyEachEffectOnce_andKeepKeyOrder() {
        ChaosProfile.run("relay-killed-20-40-60", kafka, "log");
    }

    /** Log mode: the frozen relay's partitions go to the other two when its lease ends; its late cursor write is fenced. */
    @Test
    void relayInLogModeFrozenPastItsPartitionsLease_whileTwoOthersTakeThemOver_keepsKeyOrder_andCostsOnlyWireDuplicates() {
        ChaosProfile.run("relay-paused-beyond-lease", kafka, "log");
    }

    @Test
    void threeRelaysInLogMode_databaseBackendsTerminatedMidBatch_threeTimes_loseNothing_andKeepKeyOrder() {
        ChaosProfile.run("relay-backends-terminated", kafka, "log");
    }

    @Test
    void threeRelaysInLogMode_kafkaBrokerHardKilledAndRestarted_loseNothing_andKeepKeyOrder() {
        ChaosProfile.run("broker-killed-and-restarted", kafka, "log");
    }

    /** Log mode: cursor writes whose commit confirmation never arrives, then a connection cut. */
    @Test
    void relayInLogModeWithItsDatabaseRepliesDropped_duringItsCursorCommits_losesNothing_andKeepsKeyOrder() {
        ChaosProfile.run("relay-db-half-open", kafka, "log");
    }

    @Test
    void consumersDatabaseBackendsTerminated_threeTimes_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("consumer-backends-terminated", kafka);
    }

    @Test
    void relaysDatabaseConnectionWithLatency_andSlicedPackets_deliversEverything() {
        ChaosProfile.run("relay-db-latency-and-slicing", kafka);
    }

    @Test
    void relaysDatabaseConnectionsReset_repeatedly_losesNothing() {
        ChaosProfile.run("relay-db-reset", kafka);
    }

    @Test
    void relaysDatabaseLinkBlackholed_thenHealed_drainsEverything() {
        ChaosProfile.run("relay-db-blackhole", kafka);
    }

    @Test
    void consumersDatabaseConnectionsResetAndHalfOpen_duringCommits_neverDoubleAnEffect() {
        ChaosProfile.run("consumer-db-reset-and-half-open", kafka);
    }
}
