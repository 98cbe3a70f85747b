package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KafkaEndpointTest {

    @Test
    void fromEnvironmentOrEmbedded_givesOneReachableClusterPerJvm() throws Exception {
        KafkaEndpoint endpoint = KafkaEndpoint.fromEnvironmentOrEmbedded();

        assertThat(KafkaEndpoint.fromEnvironmentOrEmbedded()).isSameAs(endpoint);
        String external = System.getenv(KafkaEndpoint.BOOTSTRAP_ENV);
        if (external != null && !external.isBlank()) {
            assertThat(endpoint.isExternal()).isTrue();
            assertThat(endpoint.bootstrapServers()).isEqualTo(external.trim());
            return;
        }
        assertThat(endpoint.isExternal()).isFalse();
        assertThat(endpoint.embedded()).get().extracting(EmbeddedKafka::isRunning).isEqualTo(true);
        assertThat(endpoint.description()).isEqualTo("embedded Kafka at " + endpoint.bootstrapServers());
        String[] hostAndPort = endpoint.bootstrapServers().split(":");
        assertThat(Reachability.isReachable(hostAndPort[0], Integer.parseInt(hostAndPort[1]), Duration.ofSeconds(2)))
                .isTrue();
    }
}
