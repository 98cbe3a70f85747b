package dev.courier.chaos;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.courier.embedded.EmbeddedKafka;
import dev.courier.kafka.KafkaHeaders;
import dev.courier.testkit.chaos.FaultProxy;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Kafka for a chaos run: a single KRaft broker in a child JVM of its own (the test kit's {@link EmbeddedKafka}), so
 * that a scenario can kill it with SIGKILL or freeze it with SIGSTOP; a topic of {@value #PARTITIONS} partitions per
 * scenario.
 */
final class KafkaBroker implements ChaosBroker {

    static final int PARTITIONS = 4;

    private final EmbeddedKafka kafka;
    private final boolean owned;

    private KafkaBroker(EmbeddedKafka kafka, boolean owned) {
        this.kafka = kafka;
        this.owned = owned;
    }

    /** Starts a broker of its own, stopped by {@link #close()}. */
    static KafkaBroker start() {
        return new KafkaBroker(EmbeddedKafka.builder().partitions(PARTITIONS).maxHeap("384m").start(), true);
    }

    EmbeddedKafka kafka() {
        return kafka;
    }

    @Override
    public String transport() {
        return "kafka";
    }

    @Override
    public void createDestination(String destination, List<String> consumers) {
        kafka.createTopic(destination, PARTITIONS);
    }

    @Override
    public void deleteDestination(String destination, List<String> consumers) {
        // the broker's data directory goes with the broker
    }

    @Override
    public List<String> clientArgs(FaultProxy proxy) {
        if (proxy != null) {
            throw new UnsupportedOperationException("Kafka clients cannot be routed through a proxy here");
        }
        return List.of("transport=kafka", "bootstrap=" + kafka.bootstrapServers());
    }

    @Override
    public FaultProxy proxy() {
        throw new UnsupportedOperationException("Kafka clients follow the advertised listener, not a proxy");
    }

    @Override
    public String describeRestart(Duration down) {
        return "Kafka broker killed (SIGKILL), restarted after " + down.toMillis() + " ms";
    }

    @Override
    public void restart(Duration down) {
        try {
            kafka.kill();
            ChaosRun.sleep(down);
        } finally {
            kafka.restart();
        }
    }

    @Override
    public boolean canPause() {
        return true;
    }

    @Override
    public void pause() {
        kafka.pause();
    }

    @Override
    public void resume() {
        kafka.resume();
    }

    @Override
    public void heal() {
        if (kafka.isPaused()) {
            kafka.resume();
        }
    }

    @Override
    public Map<UUID, Integer> wireCopies(String topic) {
        Map<UUID, Integer> copies = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end within 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    Header h = r.headers().lastHeader(KafkaHeaders.EVENT_ID);
                    if (h != null) {
                        copies.merge(UUID.fromString(new String(h.value(), StandardCharsets.UTF_8)), 1, Integer::sum);
                    }
                }
            }
        }
        return copies;
    }

    @Override
    public void close() {
        heal();
        if (owned) {
            kafka.close();
        }
    }

    @Override
    public String toString() {
        return "Kafka " + kafka.bootstrapServers();
    }
}
