package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;

import org.junit.jupiter.api.Test;

class ReachabilityTest {

    @Test
    void isReachable_tellsAListeningPortFromAClosedOne() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        int closedPort;
        try (ServerSocket listening = new ServerSocket(0, 1, loopback)) {
            assertThat(Reachability.isReachable("127.0.0.1", listening.getLocalPort(), Duration.ofSeconds(2)))
                    .isTrue();
            closedPort = listening.getLocalPort();
        }
        assertThat(Reachability.isReachable("127.0.0.1", closedPort, Duration.ofSeconds(2))).isFalse();
    }
}
