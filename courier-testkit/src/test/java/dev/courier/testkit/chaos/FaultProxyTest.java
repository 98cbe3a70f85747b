package dev.courier.testkit.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import dev.courier.testkit.TestDatabase;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

class FaultProxyTest {

    private EchoServer echo;
    private FaultProxy proxy;

    @BeforeEach
    void startEcho() throws IOException {
        echo = new EchoServer();
        proxy = FaultProxy.start("127.0.0.1", echo.port());
    }

    @AfterEach
    void stop() throws IOException {
        proxy.close();
        echo.close();
    }

    @Test
    void withoutFaults_bytesPassUnchangedInBothDirections() throws IOException {
        try (Socket socket = connect()) {
            byte[] message = "hello through the proxy".getBytes(StandardCharsets.UTF_8);
            socket.getOutputStream().write(message);
            assertThat(readExactly(socket, message.length)).isEqualTo(message);
        }
        assertThat(proxy.connectionsAccepted()).isEqualTo(1);
        assertThat(proxy.bytesForwarded()).isEqualTo(2L * "hello through the proxy".length());
    }

    @Test
    void latency_delaysEachDirection_soARoundTripTakesAtLeastTwiceAsLong() throws IOException {
        try (Socket socket = connect()) {
            roundTrip(socket, "warm-up");
            proxy.latency(Duration.ofMillis(150));
            long start = System.nanoTime();
            roundTrip(socket, "slow");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
            proxy.heal();
            start = System.nanoTime();
            roundTrip(socket, "fast again");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(300));
        }
    }

    @Test
    void blackhole_swallowsBytesSilently_andAfterHealingANewConnectionWorks() throws IOException {
        try (Socket socket = connect()) {
            roundTrip(socket, "before");
            proxy.blackhole(true);
            socket.getOutputStream().write("lost".getBytes(StandardCharsets.UTF_8));
            socket.setSoTimeout(500);
            assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
        }
        try (Socket accepted = connect()) {
            accepted.getOutputStream().write("into the hole".getBytes(StandardCharsets.UTF_8));
            accepted.setSoTimeout(500);
            assertThatThrownBy(() -> accepted.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
        }
        assertThat(proxy.bytesDropped()).isGreaterThanOrEqualTo("lostinto the hole".length());
        proxy.heal();
        try (Socket socket = connect()) {
            roundTrip(socket, "after");
        }
    }

    @Test
    void resetAll_abortsOpenConnectionsWithConnectionReset() throws Exception {
        try (Socket socket = connect()) {
            roundTrip(socket, "before");
            awaitOpenConnections(1);
            assertThat(proxy.resetAll()).isEqualTo(1);
            assertThatThrownBy(() -> {
                // the first write may still be buffered locally; the reset shows on a read
                socket.getOutputStream().write(1);
                socket.getInputStream().read();
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
        assertThat(proxy.connectionsReset()).isEqualTo(1);
        try (Socket socket = connect()) {
            roundTrip(socket, "a new connection is fine");
        }
    }

    @Test
    void resetNewConnections_refusesEachNewConnectionWithAReset() throws IOException {
        proxy.resetNewConnections(true);
        try (Socket socket = connect()) {
            socket.setSoTimeout(2_000);
            assertThatThrownBy(() -> {
                socket.getOutputStream().write(1);
                socket.getInputStream().read();
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
        proxy.heal();
        try (Socket socket = connect()) {
            roundTrip(socket, "allowed again");
        }
    }

    @Test
    void halfOpen_downstream_deliversTheRequestButNeverTheReply() throws Exception {
        try (Socket socket = connect()) {
            roundTrip(socket, "before");
            proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true);
            socket.getOutputStream().write("one-way".getBytes(StandardCharsets.UTF_8));
            awaitReceived("beforeone-way");
            socket.setSoTimeout(500);
            assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
            proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, false);
            socket.setSoTimeout(0);
            roundTrip(socket, "healed");
        }
    }

    @Test
    void halfOpen_upstream_dropsTheRequest_whileTheOtherDirectionStillWorks() throws Exception {
        try (Socket socket = connect()) {
            roundTrip(socket, "before");
            proxy.halfOpen(FaultProxy.Direction.UPSTREAM, true);
            socket.getOutputStream().write("dropped".getBytes(StandardCharsets.UTF_8));
            socket.setSoTimeout(500);
            assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
            assertThat(echo.received()).isEqualTo("before");
            // the server can still talk to the client
            echo.pushToClients("server speaks");
            assertThat(new String(readExactly(socket, "server speaks".length()), StandardCharsets.UTF_8))
                    .isEqualTo("server speaks");
        }
    }

    @Test
    void slicing_splitsWritesIntoSmallPiecesWithPauses_withoutChangingTheBytes() throws Exception {
        try (Socket socket = connect()) {
            roundTrip(socket, "x");
            echo.readSizes.clear();
            proxy.slicing(3, Duration.ofMillis(20));
            String message = "sliced into pieces of three";
            long start = System.nanoTime();
            roundTrip(socket, message);
            // 9 pieces, 8 pauses of 20 ms; the echoes of earlier pieces travel back while later ones go out
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(160));
            assertThat(echo.readSizes).allSatisfy(size -> assertThat(size).isLessThanOrEqualTo(3));
            assertThat(echo.readSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(message.length());
        }
    }

    @Test
    void cutAll_closesOpenConnectionsSoTheClientReadsEndOfStream() throws Exception {
        try (Socket socket = connect()) {
            roundTrip(socket, "before");
            awaitOpenConnections(1);
            assertThat(proxy.cutAll()).isEqualTo(1);
            socket.setSoTimeout(2_000);
            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        }
        awaitOpenConnections(0);
    }

    @Test
    void postgresThroughTheProxy_seesLatencyResetsAndABlackhole_andRecoversWhenHealed() throws Exception {
        TestDatabase database = TestDatabase.shared();
        String direct = database.jdbcUrl();
        // jdbc:postgresql://host:port/db -> the proxy's address
        String hostPort = direct.substring("jdbc:postgresql://".length(), direct.indexOf('/', 18));
        String[] parts = hostPort.split(":");
        try (FaultProxy pg = FaultProxy.start(parts[0], Integer.parseInt(parts[1]))) {
            PGSimpleDataSource viaProxy = new PGSimpleDataSource();
            viaProxy.setUrl(direct.replace(hostPort, pg.address()));
            if (database.user() != null) {
                viaProxy.setUser(database.user());
            }
            if (database.password() != null) {
                viaProxy.setPassword(database.password());
            }
            viaProxy.setApplicationName("courier-fault-proxy-test");
            viaProxy.setSocketTimeout(2);
            viaProxy.setConnectTimeout(2);

            try (Connection c = viaProxy.getConnection()) {
                assertThat(selectOne(c)).isEqualTo(1);
                pg.latency(Duration.ofMillis(100));
                long start = System.nanoTime();
                assertThat(selectOne(c)).isEqualTo(1);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(200));
                pg.heal();

                pg.resetAll();
                assertThatThrownBy(() -> selectOne(c)).isInstanceOf(SQLException.class)
                        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).startsWith("08"));
            }
            try (Connection c = viaProxy.getConnection()) {
                assertThat(selectOne(c)).isEqualTo(1);
                pg.blackhole(true);
                long start = System.nanoTime();
                assertThatThrownBy(() -> selectOne(c)).isInstanceOf(SQLException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(1_500));
            }
            pg.heal();
            pg.slicing(7, Duration.ZERO);
            try (Connection c = viaProxy.getConnection()) {
                assertThat(selectOne(c)).as("the protocol survives torn messages").isEqualTo(1);
            }
        }
    }

    private static int selectOne(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket(proxy.host(), proxy.port());
        socket.setSoTimeout(10_000);
        return socket;
    }

    private void awaitOpenConnections(int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (proxy.openConnections() != n) {
            assertThat(System.nanoTime()).as("open connections never became %d: %d", n, proxy.openConnections())
                    .isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private void awaitReceived(String expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!echo.received().equals(expected)) {
            assertThat(System.nanoTime()).as("the server received %s", echo.received()).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static void roundTrip(Socket socket, String text) throws IOException {
        byte[] message = text.getBytes(StandardCharsets.UTF_8);
        socket.getOutputStream().write(message);
        assertThat(new String(readExactly(socket, message.length), StandardCharsets.UTF_8)).isEqualTo(text);
    }

    private static byte[] readExactly(Socket socket, int n) throws IOException {
        byte[] result = socket.getInputStream().readNBytes(n);
        assertThat(result).as("bytes before end of stream").hasSize(n);
        return result;
    }

    /** Echoes every byte back, and remembers what it received and in what read sizes. */
    private static final class EchoServer implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final StringBuffer received = new StringBuffer();
        private final List<Integer> readSizes = new CopyOnWriteArrayList<>();
        private final List<Socket> clients = new CopyOnWriteArrayList<>();

        EchoServer() throws IOException {
            Thread.ofPlatform().daemon().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        clients.add(s);
                        Thread.ofPlatform().daemon().start(() -> serve(s));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        String received() {
            return received.toString();
        }

        void pushToClients(String text) throws IOException {
            for (Socket s : clients) {
                if (!s.isClosed()) {
                    s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
                }
            }
        }

        private void serve(Socket s) {
            byte[] buffer = new byte[4096];
            try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    readSizes.add(n);
                    received.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                    out.write(buffer, 0, n);
                }
            } catch (IOException e) {
                // the proxy reset us
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : clients) {
                s.close();
            }
        }
    }
}
