package dev.courier.chaos;

import java.nio.file.Files;
import java.nio.file.Path;

import dev.courier.testkit.Servers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CI profile of the chaos verification on NATS JetStream: the scenarios of {@link Scenarios} that run on NATS,
 * against a private {@code nats-server -js} in a child process (a free port, a data directory of its own), so that
 * the broker scenario can kill it with SIGKILL and start it again without touching the shared server. Same verdict as
 * on Kafka; per-key order is asserted only where the faults stay on the publishing side (JetStream redelivers an
 * unacknowledged message after later ones).
 */
class NatsChaosTest {

    private static NatsBroker nats;

    @BeforeAll
    static void startServer() {
        Servers.require("nats-server (for a private JetStream server)", Files.isExecutable(Path.of(NatsBroker.BINARY)),
                "apt-get install nats-server, or -Dcourier.chaos.natsServer=/path/to/nats-server");
        nats = NatsBroker.start();
    }

    @AfterAll
    static void stopServer() {
        if (nats != null) {
            nats.close();
        }
    }

    @Test
    void baseline_withRollbacksAndPoison_deliversEveryCommittedEventOnce_inKeyOrder() {
        ChaosProfile.assertPoisonDeadLettered(ChaosProfile.run("baseline", nats));
    }

    @Test
    void relayKilledAt20_40_60PercentAndRestarted_losesNothing_andKeepsKeyOrder() {
        ChaosProfile.run("relay-killed-20-40-60", nats);
    }

    @Test
    void relayPausedLongerThanItsLease_whileASecondRelayTakesOver_costsNothing() {
        ChaosProfile.run("relay-paused-beyond-lease", nats);
    }

    @Test
    void consumerKilledAfterItsEffectCommitsAndBeforeItsAck_isRedelivered_andTheLedgerDedupes() {
        ChaosProfile.run("consumer-killed-before-ack", nats);
    }

    @Test
    void consumerKilledThreeTimesAtRandom_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("consumer-killed-at-random", nats);
    }

    @Test
    void natsServerKilledAndRestarted_midStream_losesNothing() {
        ChaosProfile.run("broker-killed-and-restarted", nats);
    }

    @Test
    void relaysAndConsumersDatabaseBackendsTerminated_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("db-backends-terminated", nats);
    }

    @Test
    void brokerLinkResetSlowedAndBlackholed_throughTheFaultProxy_losesNothing() {
        ChaosProfile.run("broker-link-faults", nats);
    }
}
