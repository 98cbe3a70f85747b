package dev.courier.testkit;

import java.util.Optional;

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
     * {@link Servers#requireReachable(String, String, int, String)} for that.
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
