package dev.courier.testkit.chaos;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy between a client and a server that injects network faults on command: latency, a blackhole, resets,
 * half-open connections, sliced writes, and cutting every connection.
 *
 * <p>Each accepted client connection gets its own connection to the target and two forwarding threads, one per
 * direction. Faults are read by those threads before every chunk they forward, so a change made with one of the
 * methods below applies at once to connections already open as well as to new ones, until {@link #heal()} clears it.
 *
 * <ul>
 *   <li>{@linkplain #latency(Duration) latency}: every chunk waits that long before it is forwarded, in each
 *       direction (so a request-response round trip takes at least twice as long). Chunks of one direction are
 *       delayed one after another, as on a slow link.</li>
 *   <li>{@linkplain #blackhole(boolean) blackhole}: bytes are read and dropped in both directions; new connections
 *       are accepted and never reach the target. The peers see no error, only silence.</li>
 *   <li>{@linkplain #halfOpen(Direction, boolean) half-open}: bytes of one direction are read and dropped, the other
 *       direction keeps working.</li>
 *   <li>{@linkplain #slicing(int, Duration) slicing}: every chunk is written in pieces of at most a given size with
 *       a pause between them, so the peer's reads see short, torn messages.</li>
 *   <li>{@linkplain #resetAll() reset}: every open connection is aborted with a TCP RST (linger 0) on both sides;
 *       {@linkplain #resetNewConnections(boolean) resetting new connections} refuses each new one the same way.</li>
 *   <li>{@linkplain #cutAll() cut}: every open connection is closed (FIN) on both sides.</li>
 *   <li>{@linkplain #dropRepliesOnceClientSends(String) an ambiguous outcome}: a request (a COMMIT) reaches the
 *       target, and its answer, and every later one, is lost.</li>
 * </ul>
 *
 * <p>The proxy listens on {@code 127.0.0.1} on a free port. It is thread-safe; it is not a performance tool (one
 * platform thread per direction per connection, a 16 KiB buffer). Counters of what it did are kept for reports.
 *
 * <pre>{@code
 * try (FaultProxy proxy = FaultProxy.start("127.0.0.1", 5432)) {
 *     String url = "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/test";
 *     proxy.latency(Duration.ofMillis(50));
 *     proxy.resetAll();
 *     proxy.heal();
 * }
 * }</pre>
 */
public final class FaultProxy implements AutoCloseable {

    /** The direction of a byte stream through the proxy. */
    public enum Direction {
        /** From the client that connected to the proxy towards the target server. */
        UPSTREAM,
        /** From the target server back to the client. */
        DOWNSTREAM
    }

    private static final Logger LOG = LoggerFactory.getLogger(FaultProxy.class);
    private static final int BUFFER_BYTES = 16 * 1024;
    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    private record Faults(Duration latency, boolean blackhole, boolean upstreamDropped, boolean downstreamDropped,
            int sliceBytes, Duration sliceDelay, boolean resetNew) {
        static final Faults NONE = new Faults(Duration.ZERO, false, false, false, 0, Duration.ZERO, false);

        boolean drops(Direction direction) {
            return blackhole || (direction == Direction.UPSTREAM ? upstreamDropped : downstreamDropped);
        }
    }

    private final String targetHost;
    private final int targetPort;
    private final ServerSocket server;
    private final Thread acceptor;
    private final AtomicReference<Faults> faults = new AtomicReference<>(Faults.NONE);
    private final AtomicReference<ReplyTrigger> replyTrigger = new AtomicReference<>();
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong resets = new AtomicLong();
    private final AtomicLong cuts = new AtomicLong();
    private final AtomicLong bytesForwarded = new AtomicLong();
    private final AtomicLong bytesDropped = new AtomicLong();
    private volatile boolean closed;

    private FaultProxy(String targetHost, int targetPort, ServerSocket server) {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.server = server;
        this.acceptor = new Thread(this::acceptLoop, "fault-proxy-" + server.getLocalPort() + "-accept");
        this.acceptor.setDaemon(true);
    }

    /**
     * Starts a proxy on a free port of {@code 127.0.0.1} forwarding to the target.
     *
     * @throws IOException if no port can be bound
     */
    public static FaultProxy start(String targetHost, int targetPort) throws IOException {
        Objects.requireNonNull(targetHost, "targetHost");
        if (targetPort < 1 || targetPort > 65_535) {
            throw new IllegalArgumentException("targetPort must be 1 to 65535, was " + targetPort);
        }
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        FaultProxy proxy = new FaultProxy(targetHost, targetPort, server);
        proxy.acceptor.start();
        return proxy;
    }

    /** The host clients connect to: {@code 127.0.0.1}. */
    public String host() {
        return server.getInetAddress().getHostAddress();
    }

    /** The port clients connect to. */
    public int port() {
        return server.getLocalPort();
    }

    /** {@code host:port} of the proxy. */
    public String address() {
        return host() + ":" + port();
    }

    /**
     * Delays every chunk by {@code latency} in each direction; {@link Duration#ZERO} removes the delay.
     *
     * @throws IllegalArgumentException if negative
     */
    public void latency(Duration latency) {
        Duration value = requireNotNegative(latency, "latency");
        update(f -> new Faults(value, f.blackhole, f.upstreamDropped, f.downstreamDropped, f.sliceBytes,
                f.sliceDelay, f.resetNew));
    }

    /** Drops every byte in both directions (and keeps new connections away from the target) while {@code on}. */
    public void blackhole(boolean on) {
        update(f -> new Faults(f.latency, on, f.upstreamDropped, f.downstreamDropped, f.sliceBytes, f.sliceDelay,
                f.resetNew));
    }

    /** Drops every byte of one direction while {@code on}; the other direction keeps flowing. */
    public void halfOpen(Direction direction, boolean on) {
        Objects.requireNonNull(direction, "direction");
        update(f -> new Faults(f.latency, f.blackhole,
                direction == Direction.UPSTREAM ? on : f.upstreamDropped,
                direction == Direction.DOWNSTREAM ? on : f.downstreamDropped, f.sliceBytes, f.sliceDelay,
                f.resetNew));
    }

    /**
     * Writes every chunk in pieces of at most {@code maxBytes}, pausing {@code delay} between pieces.
     *
     * @param maxBytes at least 1; call {@link #heal()} or pass {@link Integer#MAX_VALUE} to stop slicing
     * @throws IllegalArgumentException if {@code maxBytes} is below 1 or {@code delay} is negative
     */
    public void slicing(int maxBytes, Duration delay) {
        if (maxBytes < 1) {
            throw new IllegalArgumentException("maxBytes must be at least 1, was " + maxBytes);
        }
        Duration pause = requireNotNegative(delay, "delay");
        int bytes = maxBytes == Integer.MAX_VALUE ? 0 : maxBytes;
        update(f -> new Faults(f.latency, f.blackhole, f.upstreamDropped, f.downstreamDropped, bytes, pause,
                f.resetNew));
    }

    /**
     * Arms a one-shot trigger for an ambiguous outcome: the next chunk a client sends that contains {@code marker}
     * (as US-ASCII bytes) is forwarded to the target, but every reply from the target is dropped from then on, as if
     * {@link #halfOpen(Direction, boolean) halfOpen(DOWNSTREAM, true)} had been called the moment before. With
     * {@code "COMMIT"} and a PostgreSQL client, the server receives the commit and carries it out, and the client
     * never hears so: the transaction's outcome is unknown to it. The replies stop before the chunk is forwarded, so
     * the answer to that request is always lost; a marker split across two chunks is not seen. {@link #heal()}
     * disarms the trigger and lets replies through again.
     *
     * @return a latch that opens once the trigger has fired
     */
    public CountDownLatch dropRepliesOnceClientSends(String marker) {
        Objects.requireNonNull(marker, "marker");
        if (marker.isEmpty()) {
            throw new IllegalArgumentException("the marker must not be empty");
        }
        CountDownLatch fired = new CountDownLatch(1);
        replyTrigger.set(new ReplyTrigger(marker.getBytes(StandardCharsets.US_ASCII), fired));
        return fired;
    }

    private record ReplyTrigger(byte[] marker, CountDownLatch fired) {}

    private void fireTriggerIfCarried(byte[] buffer, int length) {
        ReplyTrigger t = replyTrigger.get();
        if (t != null && contains(buffer, length, t.marker) && replyTrigger.compareAndSet(t, null)) {
            halfOpen(Direction.DOWNSTREAM, true);
            LOG.info("fault proxy {} -> {}:{}: a client sent the trigger; replies dropped from now on", port(),
                    targetHost, targetPort);
            t.fired.countDown();
        }
    }

    private static boolean contains(byte[] buffer, int length, byte[] marker) {
        outer:
        for (int i = 0; i + marker.length <= length; i++) {
            for (int j = 0; j < marker.length; j++) {
                if (buffer[i + j] != marker[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** While {@code on}, each new connection is accepted and aborted at once with a TCP RST. */
    public void resetNewConnections(boolean on) {
        update(f -> new Faults(f.latency, f.blackhole, f.upstreamDropped, f.downstreamDropped, f.sliceBytes,
                f.sliceDelay, on));
    }

    /**
     * Aborts every open connection with a TCP RST on both sides (the client sees "connection reset").
     *
     * @return how many connections were reset
     */
    public int resetAll() {
        int n = 0;
        for (Link link : links) {
            link.abort(true);
            n++;
        }
        resets.addAndGet(n);
        LOG.info("fault proxy {} -> {}:{}: reset {} connection(s)", port(), targetHost, targetPort, n);
        return n;
    }

    /**
     * Closes every open connection on both sides with a normal FIN (the client reads end-of-stream).
     *
     * @return how many connections were cut
     */
    public int cutAll() {
        int n = 0;
        for (Link link : links) {
            link.abort(false);
            n++;
        }
        cuts.addAndGet(n);
        LOG.info("fault proxy {} -> {}:{}: cut {} connection(s)", port(), targetHost, targetPort, n);
        return n;
    }

    /** Clears every fault: no latency, no blackhole, both directions flowing, no slicing, new connections allowed. */
    public void heal() {
        replyTrigger.set(null);
        faults.set(Faults.NONE);
    }

    /** How many connections are open through the proxy now. */
    public int openConnections() {
        return links.size();
    }

    /** How many client connections the proxy has accepted since it started. */
    public long connectionsAccepted() {
        return accepted.get();
    }

    /** How many connections were reset, by {@link #resetAll()} or while {@link #resetNewConnections} was on. */
    public long connectionsReset() {
        return resets.get();
    }

    /** How many connections {@link #cutAll()} closed. */
    public long connectionsCut() {
        return cuts.get();
    }

    /** Bytes forwarded, both directions together. */
    public long bytesForwarded() {
        return bytesForwarded.get();
    }

    /** Bytes read and dropped by a blackhole or a half-open direction. */
    public long bytesDropped() {
        return bytesDropped.get();
    }

    /** Stops accepting and closes every connection. Closing twice is harmless. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // nothing left to do with a server socket that cannot be closed
        }
        for (Link link : links) {
            link.abort(false);
        }
    }

    @Override
    public String toString() {
        return "FaultProxy[" + address() + " -> " + targetHost + ":" + targetPort + ", " + faults.get() + "]";
    }

    private void update(java.util.function.UnaryOperator<Faults> change) {
        Faults now = faults.updateAndGet(change);
        LOG.info("fault proxy {} -> {}:{}: {}", port(), targetHost, targetPort, now);
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("fault proxy {} stops accepting: {}", port(), e.toString());
                }
                return;
            }
            accepted.incrementAndGet();
            Faults now = faults.get();
            if (now.resetNew) {
                abortQuietly(client, true);
                resets.incrementAndGet();
                continue;
            }
            Thread.ofPlatform().daemon().name("fault-proxy-" + port() + "-open").start(() -> open(client));
        }
    }

    private void open(Socket client) {
        Socket target = null;
        try {
            client.setTcpNoDelay(true);
            if (!faults.get().blackhole) {
                target = new Socket();
                target.setTcpNoDelay(true);
                target.connect(new InetSocketAddress(targetHost, targetPort), CONNECT_TIMEOUT_MILLIS);
            }
        } catch (IOException e) {
            LOG.debug("fault proxy {} cannot reach {}:{}: {}", port(), targetHost, targetPort, e.toString());
            abortQuietly(client, true);
            if (target != null) {
                abortQuietly(target, true);
            }
            return;
        }
        Link link = new Link(client, target);
        links.add(link);
        if (closed) {
            link.abort(false);
            return;
        }
        link.start();
    }

    /** One client connection and its connection to the target (none if it was accepted into a blackhole). */
    private final class Link {
        private final Socket client;
        private final Socket target;
        private final AtomicBoolean finished = new AtomicBoolean();
        private final AtomicInteger pumpsRunning;

        Link(Socket client, Socket target) {
            this.client = client;
            this.target = target;
            this.pumpsRunning = new AtomicInteger(target == null ? 1 : 2);
        }

        void start() {
            String name = "fault-proxy-" + port() + "-" + client.getPort();
            Thread.ofPlatform().daemon().name(name + "-up").start(() -> pump(client, target, Direction.UPSTREAM));
            if (target != null) {
                Thread.ofPlatform().daemon().name(name + "-down")
                        .start(() -> pump(target, client, Direction.DOWNSTREAM));
            }
        }

        private void pump(Socket from, Socket to, Direction direction) {
            byte[] buffer = new byte[BUFFER_BYTES];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to == null ? null : to.getOutputStream();
                while (true) {
                    int n = in.read(buffer);
                    if (n < 0) {
                        break;
                    }
                    if (direction == Direction.UPSTREAM) {
                        fireTriggerIfCarried(buffer, n);
                    }
                    Faults now = faults.get();
                    if (out == null || now.drops(direction)) {
                        bytesDropped.addAndGet(n);
                        continue;
                    }
                    sleep(now.latency);
                    // counted before the write, so that a peer that has read the bytes sees them counted
                    bytesForwarded.addAndGet(n);
                    if (now.sliceBytes > 0) {
                        for (int offset = 0; offset < n; offset += now.sliceBytes) {
                            if (offset > 0) {
                                sleep(now.sliceDelay);
                            }
                            out.write(buffer, offset, Math.min(now.sliceBytes, n - offset));
                            out.flush();
                        }
                    } else {
                        out.write(buffer, 0, n);
                        out.flush();
                    }
                }
                // end of stream from this side: pass the half-close on, as TCP would
                if (to != null && !to.isClosed()) {
                    to.shutdownOutput();
                }
                if (to == null) {
                    abort(false);
                }
            } catch (IOException e) {
                // a reset from either peer, or our own abort: close both sides, resetting the peer that is left
                abort(e instanceof SocketException && String.valueOf(e.getMessage()).contains("reset"));
            } finally {
                if (pumpsRunning.decrementAndGet() == 0) {
                    forget();
                }
            }
        }

        void abort(boolean reset) {
            abortQuietly(client, reset);
            if (target != null) {
                abortQuietly(target, reset);
            }
            forget();
        }

        private void forget() {
            if (finished.compareAndSet(false, true)) {
                links.remove(this);
                closeQuietly(client);
                if (target != null) {
                    closeQuietly(target);
                }
            }
        }
    }

    private static void abortQuietly(Socket socket, boolean reset) {
        try {
            if (reset) {
                socket.setSoLinger(true, 0);
            }
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }

    private static void sleep(Duration duration) {
        if (duration.isZero()) {
            return;
        }
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Duration requireNotNegative(Duration duration, String name) {
        if (duration == null || duration.isNegative()) {
            throw new IllegalArgumentException(name + " must be zero or positive, was " + duration);
        }
        return duration;
    }
}
