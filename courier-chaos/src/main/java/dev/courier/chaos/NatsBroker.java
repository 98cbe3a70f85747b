package dev.courier.chaos;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import dev.courier.nats.JetStreamTransport;
import dev.courier.testkit.Servers;
import dev.courier.testkit.chaos.FaultProxy;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StreamInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NATS JetStream for a chaos run: a private {@code nats-server -js} started as a child process on a free port with a
 * data directory of its own, so that a scenario can kill it with SIGKILL (or freeze it with SIGSTOP) and start it
 * again on the same port and data, without touching the shared server on 4222. One stream per scenario, created by
 * the transport with a duplicate window that covers the relay's retries; the copies of each event are read back from
 * the stream by sequence after the run.
 */
final class NatsBroker implements ChaosBroker {

    static final String BINARY = System.getProperty("courier.chaos.natsServer", "/usr/sbin/nats-server");
    private static final Logger LOG = LoggerFactory.getLogger(NatsBroker.class);

    private final int port;
    private final Path dataDir;
    private final Path logFile;
    private Process server;
    private boolean paused;

    private NatsBroker(int port, Path dataDir) {
        this.port = port;
        this.dataDir = dataDir;
        this.logFile = dataDir.resolve("nats-server.log");
    }

    /** Starts a private server; throws if the binary is missing or the server does not come up. */
    static NatsBroker start() {
        if (!Files.isExecutable(Path.of(BINARY))) {
            throw new IllegalStateException("no nats-server at " + BINARY + " (Debian package nats-server, or set"
                    + " -Dcourier.chaos.natsServer=PATH)");
        }
        try (ServerSocket s = new ServerSocket(0)) {
            NatsBroker broker = new NatsBroker(s.getLocalPort(), Files.createTempDirectory("courier-chaos-nats-"));
            s.close();
            broker.launch();
            Runtime.getRuntime().addShutdownHook(new Thread(broker::destroy, "chaos-nats-stop"));
            return broker;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a private nats-server", e);
        }
    }

    String url() {
        return "nats://127.0.0.1:" + port;
    }

    private synchronized void launch() {
        try {
            server = new ProcessBuilder(BINARY, "-a", "127.0.0.1", "-p", Integer.toString(port), "-js", "-sd",
                    dataDir.resolve("js").toString()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + BINARY, e);
        }
        awaitJetStream();
    }

    private void awaitJetStream() {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            if (!server.isAlive()) {
                throw new IllegalStateException("nats-server exited (" + server.exitValue() + "); see " + logFile);
            }
            if (Servers.isReachable("127.0.0.1", port, Duration.ofMillis(500))) {
                try (Connection c = Nats.connect(new Options.Builder().server(url()).build())) {
                    c.jetStreamManagement().getAccountStatistics();
                    return;
                } catch (IOException | JetStreamApiException e) {
                    // JetStream still recovering its streams
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("nats-server on " + port + " did not serve JetStream within 30 s");
            }
            ChaosRun.sleep(Duration.ofMillis(100));
        }
    }

    @Override
    public String transport() {
        return "nats";
    }

    @Override
    public void createDestination(String destination, List<String> consumers) {
        try (JetStreamTransport transport = ChaosTransports.nats(url(), "chaos-setup")) {
            transport.ensureStream(destination);
        }
    }

    @Override
    public void deleteDestination(String destination, List<String> consumers) {
        try (Connection c = Nats.connect(new Options.Builder().server(url()).build())) {
            c.jetStreamManagement().deleteStream(JetStreamTransport.defaultStreamName(destination));
        } catch (IOException | JetStreamApiException | RuntimeException e) {
            LOG.warn("cannot delete the stream of {}: {}", destination, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public List<String> clientArgs(FaultProxy proxy) {
        return List.of("transport=nats", "natsUrl=" + (proxy == null ? url() : "nats://" + proxy.address()));
    }

    @Override
    public FaultProxy proxy() throws IOException {
        return FaultProxy.start("127.0.0.1", port);
    }

    @Override
    public Map<UUID, Integer> wireCopies(String destination) {
        Map<UUID, Integer> copies = new HashMap<>();
        String stream = JetStreamTransport.defaultStreamName(destination);
        try (Connection c = Nats.connect(new Options.Builder().server(url()).build())) {
            JetStreamManagement jsm = c.jetStreamManagement();
            StreamInfo info = jsm.getStreamInfo(stream);
            long first = info.getStreamState().getFirstSequence();
            long last = info.getStreamState().getLastSequence();
            for (long seq = first; seq <= last && last > 0; seq++) {
                MessageInfo m = jsm.getMessage(stream, seq);
                String id = m.getHeaders() == null ? null : m.getHeaders().getFirst("Nats-Msg-Id");
                if (id != null) {
                    copies.merge(UUID.fromString(id), 1, Integer::sum);
                }
            }
        } catch (IOException | JetStreamApiException e) {
            throw new IllegalStateException("cannot read the stream " + stream, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return copies;
    }

    @Override
    public String describeRestart(Duration down) {
        return "nats-server killed (SIGKILL), started again on its data after " + down.toMillis() + " ms";
    }

    @Override
    public synchronized void restart(Duration down) {
        try {
            server.destroyForcibly();
            server.waitFor(10, TimeUnit.SECONDS);
            paused = false;
            ChaosRun.sleep(down);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            launch();
        }
    }

    @Override
    public boolean canPause() {
        return true;
    }

    @Override
    public synchronized void pause() {
        signal("STOP");
        paused = true;
    }

    @Override
    public synchronized void resume() {
        signal("CONT");
        paused = false;
    }

    @Override
    public synchronized void heal() {
        if (paused) {
            resume();
        }
    }

    private void signal(String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(server.pid())).start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + server.pid() + " failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot signal nats-server", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private synchronized void destroy() {
        if (server != null && server.isAlive()) {
            if (paused) {
                signal("CONT");
            }
            server.destroyForcibly();
        }
    }

    /** The server's last log lines, for a failure report. */
    String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        destroy();
        try (var files = Files.walk(dataDir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warn("cannot delete {}", dataDir);
        }
    }

    @Override
    public String toString() {
        return "nats-server " + url();
    }
}
