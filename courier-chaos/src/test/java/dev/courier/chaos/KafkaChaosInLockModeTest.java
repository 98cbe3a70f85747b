package dev.courier.chaos;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The relay scenarios of {@link KafkaChaosTest} with relays that hold their claims by row locks
 * ({@code claimMode=lock}) instead of a lease: a killed relay's claim transaction rolls back, a frozen one's is ended
 * by PostgreSQL after the lease ({@code idle_in_transaction_session_timeout}), and terminated backends take their
 * claims with them. Same verdict: lost = 0, unexpected = 0, duplicated effects = 0, per-key order with one relay.
 */
class KafkaChaosInLockModeTest {

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
    void relayKilledAt20_40_60PercentAndRestarted_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("relay-killed-20-40-60", kafka, "lock");
    }

    @Test
    void relayFrozenWhileItsClaimTransactionIsOpen_whileASecondRelayTakesOver_costsOnlyWireDuplicates() {
        ChaosProfile.run("relay-paused-beyond-lease", kafka, "lock");
    }

    @Test
    void relaysDatabaseBackendsTerminatedMidClaim_threeTimes_losesNothing() {
        ChaosProfile.run("relay-backends-terminated", kafka, "lock");
    }
}
