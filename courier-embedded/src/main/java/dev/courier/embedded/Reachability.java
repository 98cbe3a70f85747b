package dev.courier.embedded;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * Whether a server answers on a TCP port: how {@link EmbeddedKafka} waits for its broker's listener, and what the test
 * kit's {@code Servers} builds its skip-or-fail decision on.
 */
public final class Reachability {

    private Reachability() {
    }

    /**
     * Whether a TCP connection to {@code host:port} can be opened within {@code timeout}. The connection is closed at
     * once; nothing is sent.
     */
    public static boolean isReachable(String host, int port, Duration timeout) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) Math.max(1, timeout.toMillis()));
            return true;
        } catch (IOException | IllegalArgumentException e) {
            return false;
        }
    }
}
