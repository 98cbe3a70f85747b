package dev.courier.chaos;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import dev.courier.PoisonEventException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.kafka.KafkaIdempotentConsumer;
import dev.courier.spi.Subscription;
import dev.courier.spi.Transport;
import dev.courier.testkit.chaos.ChaosTables;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer of a chaos run, as a child JVM: applies each event once, through the processed-events ledger, by writing
 * an effect row in {@value ChaosTables#EFFECTS}; rejects the writer's poison events as poison.
 *
 * <p>With {@code crashAfterEffects=N} it stops dead after the N-th committed outcome of this process (an effect, a
 * recognised duplicate or a dead-lettered poison event: the after-commit hook runs for each) and before it is
 * acknowledged (the Kafka offset commit, the RabbitMQ ack, the JetStream ack): it writes {@code markerFile} and
 * blocks its loop thread, so that the scenario kills it with SIGKILL exactly between the commit and the
 * acknowledgement.
 *
 * <p>On Kafka it is a {@link KafkaIdempotentConsumer} in group {@code chaos-<consumer>}; on RabbitMQ and NATS the
 * transport's own subscription ({@link Transport#subscribe}): the queue {@code <topic>.<consumer>}, or the durable
 * JetStream consumer {@code <consumer>} with a 2 s ack wait.
 *
 * <p>Arguments: {@code jdbcUrl}, {@code applicationName}, {@code topic} (the destination), {@code consumer} (its
 * ledger name), the broker's as for {@link ChaosRelay}; optionally {@code crashAfterEffects}, {@code markerFile},
 * {@code dbUser}, {@code socketTimeoutSeconds}.
 */
public final class ChaosConsumer {

    private static final Logger LOG = LoggerFactory.getLogger(ChaosConsumer.class);

    private ChaosConsumer() {
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String consumer = args.get("consumer");
        // once crashed (the marker exists), a restarted consumer runs normally
        long crashAfter = Files.exists(Path.of(args.get("markerFile", "/nonexistent/marker")))
                ? 0 : args.getLong("crashAfterEffects", 0);
        var pool = args.pool(3);
        IdempotentProcessor processor = IdempotentProcessor.builder(consumer, pool, (event, connection) -> {
            if (ChaosWriter.POISON.equals(new String(event.payload(), StandardCharsets.UTF_8))) {
                throw new PoisonEventException("chaos poison event " + event.id());
            }
            ChaosTables.recordEffect(connection, consumer, event.id());
        }).retryPolicy(ChaosTransports.CONSUMER_RETRIES).build();
        AtomicLong effects = new AtomicLong();
        String transportName = args.get("transport", "kafka");
        if (!transportName.equals("kafka")) {
            Transport transport = ChaosTransports.fromArgs(args, consumer, Duration.ofSeconds(2));
            Subscription subscription = transport.subscribe(ChaosTransports.spec(transportName, args.get("topic"))
                    .withAfterCommit(event -> {
                        if (effects.incrementAndGet() == crashAfter) {
                            crashHere(args.get("markerFile"), event.id().toString());
                        }
                    }), processor);
            LOG.info("consumer {} started on {}", consumer, transport.name());
            while (true) {
                Thread.sleep(1_000);
                if (!subscription.isRunning()) {
                    // a subscription that stops by itself is a failure the scenario must see: die loudly
                    LOG.error("the subscription of {} stopped: {}", consumer, subscription);
                    Runtime.getRuntime().halt(3);
                }
            }
        }
        KafkaIdempotentConsumer kafka = KafkaIdempotentConsumer.builder().bootstrapServers(args.get("bootstrap"))
                .groupId("chaos-" + consumer).clientId(consumer).topics(args.get("topic")).processor(processor)
                .pollTimeout(Duration.ofMillis(100)).property("fetch.max.wait.ms", 50)
                // a killed member must leave the group quickly, and a restarted one take its place at once
                .property("session.timeout.ms", 6_000).property("heartbeat.interval.ms", 1_000)
                .property("group.instance.id", consumer)
                .afterCommit(event -> {
                    if (effects.incrementAndGet() == crashAfter) {
                        crashHere(args.get("markerFile"), event.id().toString());
                    }
                }).build();
        kafka.start();
        LOG.info("consumer {} started", consumer);
        new CountDownLatch(1).await();
    }

    /** Announces the crash point and blocks the consumer's loop until the scenario kills this process. */
    private static void crashHere(String markerFile, String eventId) {
        try {
            Files.writeString(Path.of(markerFile), eventId);
            LOG.warn("effect of {} committed; blocking before its offset commit until killed", eventId);
            new CountDownLatch(1).await();
        } catch (Exception e) {
            Runtime.getRuntime().halt(137);
        }
    }
}
