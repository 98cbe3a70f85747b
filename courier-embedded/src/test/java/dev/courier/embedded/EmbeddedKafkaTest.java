package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EmbeddedKafkaTest {

    private static final Duration READ_TIMEOUT = Duration.ofSeconds(20);

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startBroker() {
        kafka = EmbeddedKafka.start();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void embeddedKafka_acknowledgesAnIdempotentAcksAllWrite_andServesItBack() throws Exception {
        kafka.createTopic("orders", 3);

        RecordMetadata written = KafkaTestClients.sendAcknowledged(kafka.bootstrapServers(), "orders", "order-1",
                "created");

        assertThat(written.hasOffset()).isTrue();
        List<ConsumerRecord<String, String>> read =
                KafkaTestClients.readFromBeginning(kafka.bootstrapServers(), "orders", 1, READ_TIMEOUT);
        assertThat(read).singleElement().satisfies(record -> {
            assertThat(record.key()).isEqualTo("order-1");
            assertThat(record.value()).isEqualTo("created");
            assertThat(record.partition()).isEqualTo(written.partition());
            assertThat(record.offset()).isEqualTo(written.offset());
        });
    }

    @Test
    void embeddedKafka_whenKilledAndRestarted_keepsCommittedRecords() throws Exception {
        kafka.createTopic("survivors", 1);
        KafkaTestClients.sendAcknowledged(kafka.bootstrapServers(), "survivors", "key", "acknowledged before kill");
        String bootstrapBefore = kafka.bootstrapServers();
        long pidBefore = kafka.pid();

        kafka.kill();

        assertThat(kafka.isRunning()).isFalse();
        assertThat(ProcessHandle.of(pidBefore).map(ProcessHandle::isAlive).orElse(false)).isFalse();

        kafka.restart();

        assertThat(kafka.isRunning()).isTrue();
        assertThat(kafka.pid()).isNotEqualTo(pidBefore);
        assertThat(kafka.bootstrapServers()).isEqualTo(bootstrapBefore);
        List<ConsumerRecord<String, String>> read =
                KafkaTestClients.readFromBeginning(kafka.bootstrapServers(), "survivors", 1, READ_TIMEOUT);
        assertThat(read).extracting(ConsumerRecord::value).containsExactly("acknowledged before kill");
    }

    @Test
    void embeddedKafka_whenPaused_answersNothingUntilResumed() throws Exception {
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 1_000,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000))) {
            admin.describeCluster().nodes().get(10, TimeUnit.SECONDS);

            kafka.pause();
            try {
                assertThat(kafka.isPaused()).isTrue();
                assertThatThrownBy(() -> admin.describeCluster().clusterId().get(1_500, TimeUnit.MILLISECONDS))
                        .isInstanceOf(TimeoutException.class);
            } finally {
                kafka.resume();
            }

            assertThat(kafka.isPaused()).isFalse();
            assertThat(admin.describeCluster().nodes().get(10, TimeUnit.SECONDS)).hasSize(1);
        }
    }

    @Test
    void embeddedKafka_autoCreatesTopicsWithTheConfiguredNumberOfPartitions() throws Exception {
        KafkaTestClients.sendAcknowledged(kafka.bootstrapServers(), "auto-created", "key", "value");

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            int partitions = admin.describeTopics(List.of("auto-created")).allTopicNames().get(10, TimeUnit.SECONDS)
                    .get("auto-created").partitions().size();
            assertThat(partitions).isEqualTo(3);
        }
    }

    @Test
    void createTopic_whenTheTopicExists_failsNamingIt() {
        kafka.createTopic("twice", 1);

        assertThatThrownBy(() -> kafka.createTopic("twice", 1))
                .isInstanceOf(EmbeddedKafkaException.class)
                .hasMessageContaining("twice");
    }

    @Test
    void close_stopsTheBrokerAndDeletesItsFiles() {
        EmbeddedKafka own = EmbeddedKafka.builder().partitions(1).maxHeap("256m").start();
        long pid = own.pid();
        Path workDir = own.logFile().getParent();
        assertThat(workDir).isDirectory();

        own.close();

        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        assertThat(Files.exists(workDir)).isFalse();
        assertThatThrownBy(own::restart).isInstanceOf(IllegalStateException.class);
        own.close();
    }

    @Test
    void start_whenTheBrokerConfigurationIsInvalid_failsWithTheEndOfTheBrokerLog() {
        assertThatThrownBy(() -> EmbeddedKafka.builder()
                        .brokerProperty("num.network.threads", "not-a-number")
                        .startupTimeout(Duration.ofSeconds(30))
                        .start())
                .isInstanceOf(EmbeddedKafkaException.class)
                .hasMessageContaining("--- last lines of")
                .hasMessageContaining("num.network.threads");
    }
}
