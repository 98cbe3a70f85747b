package dev.courier.chaos;

import java.time.Duration;

import dev.courier.nats.JetStreamTransport;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;

/**
 * The settings a chaos run gives each transport, in one place: the broker side (declaring queues, creating streams)
 * and the children (relays and consumers) must agree on them, or the broker refuses a declaration.
 *
 * <p>Retries are many and short on both sides, so that an outage of a scenario delays events instead of parking
 * them dead: the relay tries a publish up to 1,000 times (50 ms to 1 s apart), a consumer its handler up to 1,000
 * times (20 to 500 ms apart). Broker-side limits are set above those: RabbitMQ's {@code x-delivery-limit}, which
 * also counts redeliveries after a crash or a lost connection, and JetStream's duplicate window, which covers the
 * relay's whole retry horizon.
 */
final class ChaosTransports {

    /** The relay's retry policy. */
    static final RetryPolicy RELAY_RETRIES = RetryPolicy.builder().maxAttempts(1_000)
            .initialDelay(Duration.ofMillis(50)).maxDelay(Duration.ofMillis(1_000)).build();
    /** The consumers' retry policy. */
    static final RetryPolicy CONSUMER_RETRIES = RetryPolicy.builder().maxAttempts(1_000)
            .initialDelay(Duration.ofMillis(20)).maxDelay(Duration.ofMillis(500)).build();
    /** RabbitMQ's delivery limit on the consumers' quorum queues: above the handler's attempts. */
    static final int RABBITMQ_DELIVERY_LIMIT = 2_000;
    /** JetStream's ack wait: short, so that what a killed consumer held comes back within seconds. */
    static final String NATS_ACK_WAIT = "2s";

    private ChaosTransports() {
    }

    /** A RabbitMQ transport on {@code host:port}, with heartbeats short enough to notice a dead link. */
    static RabbitMqTransport rabbitMq(String host, int port, String connectionName) {
        return RabbitMqTransport.builder().host(host).port(port).connectionName(connectionName)
                .connectionTimeout(Duration.ofSeconds(5)).heartbeat(Duration.ofSeconds(5))
                .deliveryLimit(RABBITMQ_DELIVERY_LIMIT).build();
    }

    /** The relays' publish timeout, unless a scenario gives another. */
    static final Duration RELAY_PUBLISH_TIMEOUT = Duration.ofSeconds(2);
    /** The relays' longest poll interval. */
    static final Duration RELAY_MAX_POLL = Duration.ofMillis(100);

    /**
     * A JetStream transport on {@code url} whose streams' duplicate window covers the whole retry horizon of a relay
     * with the default publish timeout: the delays and, per attempt, a publish timeout and a poll interval (the relay
     * refuses a stream whose window is shorter).
     */
    static JetStreamTransport nats(String url, String connectionName) {
        return nats(url, connectionName, RELAY_PUBLISH_TIMEOUT);
    }

    static JetStreamTransport nats(String url, String connectionName, Duration publishTimeout) {
        return JetStreamTransport.builder().servers(url).connectionName(connectionName)
                .retryHorizon(Relay.retryHorizon(RELAY_RETRIES, publishTimeout, RELAY_MAX_POLL)).build();
    }

    /** The transport a child's arguments name ({@code transport=kafka|rabbitmq|nats} and its connection). */
    static Transport fromArgs(Args args, String clientId, Duration publishTimeout) {
        String transport = args.get("transport", "kafka");
        return switch (transport) {
            case "kafka" -> dev.courier.kafka.KafkaTransport.builder().bootstrapServers(args.get("bootstrap"))
                    .clientId(clientId).property("delivery.timeout.ms", (int) publishTimeout.toMillis())
                    .property("request.timeout.ms", (int) publishTimeout.toMillis() - 500).build();
            case "rabbitmq" -> rabbitMq(args.get("amqpHost"), (int) args.getLong("amqpPort", 5672), clientId);
            case "nats" -> nats(args.get("natsUrl"), clientId, publishTimeout);
            default -> throw new IllegalArgumentException("unknown transport " + transport);
        };
    }

    /** The subscription spec of a chaos consumer on a non-Kafka transport. */
    static SubscriptionSpec spec(String transport, String destination) {
        SubscriptionSpec spec = SubscriptionSpec.of(destination).withMaxRecordBytes(64 * 1024);
        if (transport.equals("nats")) {
            // no growing backoff: a delivery a killed consumer held comes back after one ack wait
            spec = spec.withOption(JetStreamTransport.OPTION_ACK_WAIT, NATS_ACK_WAIT)
                    .withOption(JetStreamTransport.OPTION_BACKOFF, "none")
                    .withOption(JetStreamTransport.OPTION_BATCH_SIZE, "100");
        }
        return spec;
    }
}
