package dev.courier.chaos;

import dev.courier.testkit.Servers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CI profile of the chaos verification on RabbitMQ: the scenarios of {@link Scenarios} that run on RabbitMQ, on
 * the local node (an exchange, quorum queue and audit queue of its own per scenario, deleted afterwards), with the
 * same verdict as on Kafka. Per-key order is asserted only in the scenarios whose faults stay on the publishing side:
 * the RabbitMQ mode promises queue order only while the consumer returns nothing to the queue. The broker scenario
 * stops and starts the node's application ({@code rabbitmqctl}) and always waits for it to serve again.
 */
class RabbitMqChaosTest {

    private static RabbitMqBroker rabbit;

    @BeforeAll
    static void connect() {
        Servers.requireReachable("RabbitMQ", RabbitMqBroker.HOST, RabbitMqBroker.PORT,
                "rabbitmq-server -detached (Debian package rabbitmq-server), user guest/guest");
        rabbit = RabbitMqBroker.local();
    }

    @AfterAll
    static void ensureRunning() {
        if (rabbit != null) {
            rabbit.close();
        }
    }

    @Test
    void baseline_withRollbacksAndPoison_deliversEveryCommittedEventOnce_inKeyOrder() {
        ChaosProfile.assertPoisonDeadLettered(ChaosProfile.run("baseline", rabbit));
    }

    @Test
    void relayKilledAt20_40_60PercentAndRestarted_losesNothing_andKeepsKeyOrder() {
        ChaosProfile.run("relay-killed-20-40-60", rabbit);
    }

    @Test
    void relayPausedLongerThanItsLease_whileASecondRelayTakesOver_costsOnlyWireDuplicates() {
        ChaosProfile.run("relay-paused-beyond-lease", rabbit);
    }

    @Test
    void consumerKilledAfterItsEffectCommitsAndBeforeItsAck_isRedelivered_andTheLedgerDedupes() {
        ChaosProfile.run("consumer-killed-before-ack", rabbit);
    }

    @Test
    void consumerKilledThreeTimesAtRandom_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("consumer-killed-at-random", rabbit);
    }

    @Test
    void brokerStoppedAndRestarted_midStream_losesNothing() {
        ChaosProfile.run("broker-stopped-and-restarted", rabbit);
    }

    @Test
    void relaysAndConsumersDatabaseBackendsTerminated_losesNothing_andAppliesEachEffectOnce() {
        ChaosProfile.run("db-backends-terminated", rabbit);
    }

    @Test
    void brokerLinkResetSlowedAndBlackholed_throughTheFaultProxy_losesNothing() {
        ChaosProfile.run("broker-link-faults", rabbit);
    }
}
