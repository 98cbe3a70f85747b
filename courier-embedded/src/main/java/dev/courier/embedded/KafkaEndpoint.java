package dev.courier.embedded;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka cluster that tests should use: the one named by environment variable {@value #BOOTSTRAP_ENV} if it is
 * set, otherwise one embedded broker shared by the whole JVM.
 *
 * <p>The shared broker is started on first use and stopped when the JVM exits. Tests that kill, pause or restart a
 * broker must start their own {@link EmbeddedKafka} instead, so that other tests do not see the damage.
 */
public final class KafkaEndpoint {

    /** Environment variable with the {@code bootstrap.servers} of an external cluster to use instead. */
    public static final String BOOTSTRAP_ENV = "COURIER_KAFKA_BOOTSTRAP";

    private static final Logger LOG = LoggerFactory.getLogger(KafkaEndpoint.class);

    private static KafkaEndpoint shared;

    private final String bootstrapServers;
    private final EmbeddedKafka embedded;

    private KafkaEndpoint(String bootstrapServers, EmbeddedKafka embedded) {
        this.bootstrapServers = bootstrapServers;
        this.embedded = embedded;
    }

    /**
     * The cluster named by {@value #BOOTSTRAP_ENV}, or the JVM's shared embedded broker, started now if this is the
     * first call. Reachability of an external cluster is not checked here; use
     * {@link Reachability#isReachable(String, int, java.time.Duration)} (or, in a test, the test kit's
     * {@code Servers.requireReachable}) for that.
     *
     * @throws EmbeddedKafkaException if the shared broker has to be started and cannot be; the next call tries again
     */
    public static synchronized KafkaEndpoint fromEnvironmentOrEmbedded() {
        if (shared == null) {
            String external = System.getenv(BOOTSTRAP_ENV);
            if (external != null && !external.isBlank()) {
                shared = new KafkaEndpoint(external.trim(), null);
                LOG.info("Using the Kafka cluster at {} from {}", shared.bootstrapServers, BOOTSTRAP_ENV);
            } else {
                EmbeddedKafka kafka = EmbeddedKafka.start();
                shared = new KafkaEndpoint(kafka.bootstrapServers(), kafka);
            }
        }
        return shared;
    }

    /** The {@code bootstrap.servers} value for clients. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** Whether this is a cluster named by {@value #BOOTSTRAP_ENV} rather than the embedded broker. */
    public boolean isExternal() {
        return embedded == null;
    }

    /** The shared embedded broker, or empty for an external cluster. Do not close, kill or pause it. */
    public Optional<EmbeddedKafka> embedded() {
        return Optional.ofNullable(embedded);
    }

    /**
     * Creates a topic with replication factor 1 and the given configs, and waits until every partition has a leader
     * (see {@link EmbeddedKafka#awaitLeaders}): a producer that sends to a partition the broker is still setting up can
     * stall until its delivery timeout.
     *
     * @param name       the topic name
     * @param partitions the number of partitions, at least 1
     * @param configs    topic configs, may be empty
     * @return the topic name
     * @throws IllegalStateException if the topic cannot be created, or its partitions get no leader, within 30 s
     */
    public String createTopic(String name, int partitions, Map<String, String> configs) {
        Duration timeout = Duration.ofSeconds(30);
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()))) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs)))
                    .all()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            EmbeddedKafka.awaitLeaders(admin, name, timeout);
            return name;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topic " + name, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create topic " + name + " on " + description(), e);
        }
    }

    /** {@link #createTopic(String, int, Map)} without topic configs. */
    public String createTopic(String name, int partitions) {
        return createTopic(name, partitions, Map.of());
    }

    /** Where the cluster comes from, for logs: {@code "embedded Kafka at 127.0.0.1:41234"}. */
    public String description() {
        return isExternal()
                ? "external Kafka at " + bootstrapServers + " (" + BOOTSTRAP_ENV + ")"
                : "embedded Kafka at " + bootstrapServers;
    }

    @Override
    public String toString() {
        return description();
    }
}
