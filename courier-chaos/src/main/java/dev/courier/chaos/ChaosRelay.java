package dev.courier.chaos;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import dev.courier.relay.Relay;
import dev.courier.spi.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A relay of a chaos run, as a child JVM: publishes the outbox to the run's broker until the process is killed.
 *
 * <p>Its retries are many and short, so that a broker or database outage of a scenario delays events rather than
 * parking them dead. Arguments: {@code jdbcUrl}, {@code applicationName} (its database sessions carry it, which is how
 * a scenario finds its backends), {@code relayId}, the broker's ({@code transport=kafka} with {@code bootstrap},
 * {@code transport=rabbitmq} with {@code amqpHost} and {@code amqpPort}, or {@code transport=nats} with
 * {@code natsUrl}); optionally {@code leaseMillis} (default 5000, at least twice
 * the publish timeout), {@code publishTimeoutMillis} (default 2000), {@code dbUser}, {@code socketTimeoutSeconds},
 * {@code claimMode} ({@code lease}, {@code lock} or {@code log}; default the environment's
 * {@code COURIER_RELAY_CLAIM_MODE}, else {@code lease}). In {@code log} mode the outbox must be in log mode already,
 * and the lease is the lease of the relay's partitions: relays share them, each renewing its own every sixth of the
 * lease.
 */
public final class ChaosRelay {

    private static final Logger LOG = LoggerFactory.getLogger(ChaosRelay.class);

    private ChaosRelay() {
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        Duration lease = Duration.ofMillis(args.getLong("leaseMillis", 5_000));
        Duration publishTimeout = Duration.ofMillis(args.getLong("publishTimeoutMillis", ChaosTransports.RELAY_PUBLISH_TIMEOUT.toMillis()));
        // a restarted relay is a new relay: its own id, so the dead one's claims stay fenced until their lease ends
        String relayId = args.get("relayId") + "-" + ProcessHandle.current().pid();
        var pool = args.pool(4);
        Transport transport = ChaosTransports.fromArgs(args, relayId, publishTimeout);
        String mode = args.get("claimMode", System.getenv().getOrDefault("COURIER_RELAY_CLAIM_MODE", "lease"));
        Relay.ClaimMode claimMode = Relay.ClaimMode.valueOf(mode.toUpperCase(java.util.Locale.ROOT));
        LOG.info("relay {} claims in mode {}", relayId, claimMode);
        Relay relay = Relay.builder(pool, transport).relayId(relayId).claimMode(claimMode)
                .retryPolicy(ChaosTransports.RELAY_RETRIES)
                .lease(lease).publishTimeout(publishTimeout).batchSize(100)
                .minPollInterval(Duration.ofMillis(5)).maxPollInterval(ChaosTransports.RELAY_MAX_POLL).build();
        relay.start();
        LOG.info("relay {} started", relayId);
        new CountDownLatch(1).await();
    }
}
