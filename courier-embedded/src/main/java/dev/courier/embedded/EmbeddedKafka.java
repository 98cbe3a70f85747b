package dev.courier.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Apache Kafka broker (KRaft, combined broker and controller) running in a child JVM.
 *
 * <p>Because the broker is a separate operating-system process, a test can do to it what happens to brokers in
 * production: {@linkplain #kill() kill it} with SIGKILL, {@linkplain #pause() freeze it} with SIGSTOP, and
 * {@linkplain #restart() restart it} on the same ports and the same data, which survives a kill because the records
 * acknowledged before it are in the operating system's page cache. The child runs the {@code kafka_2.13} classes that
 * are on this JVM's class path, on this JVM's Java.
 *
 * <p>The broker listens on {@value #HOST} only. Its log (WARN and above unless {@link Builder#logLevel(String)} says
 * otherwise, plus anything the JVM prints) goes to {@link #logFile()}; failures to start quote its last lines.
 *
 * <p>Every broker is killed, and its temporary directory deleted, when this JVM exits, even if the test never closes
 * it; and the child halts by itself if this JVM is killed outright. A broker is meant to be used by one test class at
 * a time: its methods are thread-safe, but killing or pausing it affects every user.
 *
 * <pre>{@code
 * try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
 *     kafka.createTopic("orders", 3);
 *     // produce to kafka.bootstrapServers() ...
 *     kafka.kill();
 *     kafka.restart();
 * }
 * }</pre>
 */
public final class EmbeddedKafka implements AutoCloseable {

    /** The address that every listener binds to and advertises. */
    public static final String HOST = "127.0.0.1";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private static final int NODE_ID = 1;
    private static final String KAFKA_MAIN = "kafka.Kafka";
    private static final String STORAGE_TOOL_MAIN = "kafka.tools.StorageTool";
    private static final int LOG_TAIL_LINES = 60;
    private static final long LOG_TAIL_MAX_BYTES = 64 * 1024;
    private static final Duration ADMIN_REQUEST_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration TOPIC_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(100);
    private static final Pattern HEAP_SIZE = Pattern.compile("[1-9][0-9]*[kKmMgG]?");
    private static final Pattern LOG_LEVEL = Pattern.compile("(?i)TRACE|DEBUG|INFO|WARN|ERROR|OFF");

    private final Settings settings;
    private final Path workDir;
    private final Path dataDir;
    private final Path configFile;
    private final Path logFile;
    private final String classpathArgument;
    private final String clusterId;
    private final int port;
    private final int controllerPort;
    private final ChildReaper.Registration reaperRegistration;

    /** Read without the lock by the JVM-exit clean-up, which must not wait for a lock a stuck thread may hold. */
    private volatile Process process;
    private long lastPid = -1;
    private boolean paused;
    private boolean closed;

    private EmbeddedKafka(Settings settings, Path workDir, Path dataDir, String classpathArgument, String clusterId,
            int port, int controllerPort) {
        this.settings = settings;
        this.workDir = workDir;
        this.dataDir = dataDir;
        this.configFile = workDir.resolve("server.properties");
        this.logFile = workDir.resolve("broker.log");
        this.classpathArgument = classpathArgument;
        this.clusterId = clusterId;
        this.port = port;
        this.controllerPort = controllerPort;
        this.reaperRegistration = ChildReaper.register(this::killAndDeleteAtExit);
    }

    /**
     * Starts a broker with the default settings of {@link Builder} and waits until it serves requests.
     *
     * @return a running broker; close it to stop it and delete its data
     * @throws EmbeddedKafkaException if the broker cannot be prepared or does not become ready within 60 seconds
     */
    public static EmbeddedKafka start() {
        return builder().start();
    }

    /** Returns a builder for a broker with non-default settings. */
    public static Builder builder() {
        return new Builder();
    }

    private static EmbeddedKafka start(Settings settings) {
        Class<?> kafkaMain = kafkaMainClass();
        Path workDir;
        try {
            workDir = Files.createTempDirectory("courier-kafka-");
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot create a temporary directory for Kafka", e);
        }
        EmbeddedKafka kafka = null;
        boolean needsFormat;
        try {
            Path dataDir = settings.dataDir() != null ? settings.dataDir().toAbsolutePath() : workDir.resolve("data");
            Files.createDirectories(dataDir);
            int[] ports = choosePorts(settings.port(), settings.controllerPort());
            copyResource("broker-log4j2.xml", workDir.resolve("log4j2.xml"));
            copyResource("broker-logback.xml", workDir.resolve("logback.xml"));
            String classpathArgument = JavaProcesses.writeClasspathArgumentFile(workDir.resolve("classpath.args"),
                    JavaProcesses.currentClasspath(ChildMain.class, kafkaMain));
            Optional<String> existingClusterId = readClusterId(dataDir);
            needsFormat = existingClusterId.isEmpty();
            String clusterId = existingClusterId.orElseGet(() -> Uuid.randomUuid().toString());
            kafka = new EmbeddedKafka(settings, workDir, dataDir, classpathArgument, clusterId, ports[0], ports[1]);
            kafka.writeServerProperties();
        } catch (IOException | RuntimeException e) {
            if (kafka != null) {
                kafka.reaperRegistration.cancel();
            }
            Directories.deleteRecursively(workDir);
            if (e instanceof EmbeddedKafkaException ek) {
                throw ek;
            }
            throw new EmbeddedKafkaException("cannot prepare an embedded Kafka broker in " + workDir, e);
        }
        try {
            synchronized (kafka) {
                if (needsFormat) {
                    kafka.formatStorage();
                }
                kafka.launchAndAwaitReady();
            }
            return kafka;
        } catch (RuntimeException e) {
            kafka.discard();
            throw e;
        }
    }

    /** The {@code bootstrap.servers} value for clients: {@code 127.0.0.1:<port>}. */
    public String bootstrapServers() {
        return HOST + ":" + port;
    }

    /**
     * The {@code bootstrap.servers} value for clients that must reach the broker through the proxy given to
     * {@link Builder#proxiedListener(int, int)}: {@code 127.0.0.1:<advertised port>}.
     *
     * @throws IllegalStateException if the broker has no proxied listener
     */
    public String proxiedBootstrapServers() {
        if (settings.proxiedPort() == 0) {
            throw new IllegalStateException("this broker was started without a proxied listener");
        }
        return HOST + ":" + settings.proxiedAdvertisedPort();
    }

    /** The port of the client (PLAINTEXT) listener; it stays the same across restarts. */
    public int port() {
        return port;
    }

    /** The port of the KRaft controller listener; it stays the same across restarts. */
    public int controllerPort() {
        return controllerPort;
    }

    /** The id the storage was formatted with; it stays the same across restarts. */
    public String clusterId() {
        return clusterId;
    }

    /** The directory holding the broker's partitions and metadata log ({@code log.dirs}). */
    public Path dataDir() {
        return dataDir;
    }

    /** The file that receives the broker's log and its JVM's standard output and error, across restarts. */
    public Path logFile() {
        return logFile;
    }

    /**
     * The operating-system process id of the broker: that of the running process, or of the last one if the broker
     * is stopped or killed.
     */
    public synchronized long pid() {
        return lastPid;
    }

    /** Whether the broker process is alive, paused or not. */
    public boolean isRunning() {
        Process current = process;
        return current != null && current.isAlive();
    }

    /** Whether the broker process is frozen by {@link #pause()}. */
    public synchronized boolean isPaused() {
        return paused;
    }

    /**
     * Creates a topic with replication factor 1 and waits until every partition has a leader, so that clients can
     * use it at once.
     *
     * @param name       the topic name
     * @param partitions the number of partitions, at least 1
     * @throws EmbeddedKafkaException if the topic exists already or cannot be created within 30 seconds
     * @throws IllegalStateException  if the broker is not running or is paused
     */
    public synchronized void createTopic(String name, int partitions) {
        Objects.requireNonNull(name, "name");
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be at least 1, was " + partitions);
        }
        requireServing();
        long deadline = System.nanoTime() + TOPIC_TIMEOUT.toNanos();
        try (Admin admin = newAdmin()) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all()
                    .get(TOPIC_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            awaitLeaders(admin, name, deadline);
        } catch (ExecutionException e) {
            throw new EmbeddedKafkaException("cannot create topic " + name + " on " + bootstrapServers() + ": "
                    + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new EmbeddedKafkaException("topic " + name + " was not created within " + TOPIC_TIMEOUT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while creating topic " + name, e);
        }
    }

    /**
     * Waits until every partition of a topic just created has a leader, as the cluster's metadata tells it. Topic
     * creation returns once the controller accepted the topic; on a busy machine the partitions can be leaderless a
     * moment longer, and a producer that sends to them then waits for its metadata to catch up.
     *
     * @param admin   a client of the cluster
     * @param topic   the topic
     * @param timeout how long to wait at most
     * @throws TimeoutException if a partition has no leader, or the topic is still unknown, after the timeout
     */
    public static void awaitLeaders(Admin admin, String topic, Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        awaitLeaders(admin, topic, System.nanoTime() + timeout.toNanos());
    }

    private static void awaitLeaders(Admin admin, String topic, long deadline)
            throws InterruptedException, ExecutionException, TimeoutException {
        while (true) {
            TopicDescription description;
            try {
                description = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(ADMIN_REQUEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(topic);
            } catch (ExecutionException e) {
                // a topic just created can be unknown to the metadata a moment longer, on a busy machine
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(POLL_INTERVAL.toMillis());
                continue;
            }
            boolean allLed = description.partitions().stream()
                    .map(TopicPartitionInfo::leader)
                    .allMatch(leader -> leader != null && !leader.isEmpty());
            if (allLed) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new TimeoutException("partitions of " + topic + " have no leader yet: " + description);
            }
            Thread.sleep(POLL_INTERVAL.toMillis());
        }
    }

    /**
     * Kills the broker with SIGKILL, as a crash or the OOM killer would, and waits until the process is gone. The
     * data stays, for {@link #restart()}. Does nothing if the broker is not running.
     *
     * @throws IllegalStateException if the broker is closed
     */
    public synchronized void kill() {
        requireOpen();
        Process current = process;
        if (current == null) {
            return;
        }
        current.destroyForcibly();
        awaitExit(current, Duration.ofSeconds(30));
        LOG.info("Killed embedded Kafka broker (pid {})", current.pid());
        forgetProcess();
    }

    /**
     * Freezes the broker with SIGSTOP: it keeps its sockets open but answers nothing, as a broker stuck in a long
     * garbage-collection pause or on a hung disk would. Does nothing if it is paused already.
     *
     * @throws IllegalStateException if the broker is not running or is closed
     */
    public synchronized void pause() {
        requireOpen();
        if (paused) {
            return;
        }
        if (!isRunning()) {
            throw new IllegalStateException("the embedded Kafka broker is not running");
        }
        JavaProcesses.signal(process.pid(), "STOP");
        paused = true;
    }

    /**
     * Lets a broker frozen by {@link #pause()} run again with SIGCONT. Does nothing if it is not paused.
     *
     * @throws IllegalStateException if the broker is closed
     */
    public synchronized void resume() {
        requireOpen();
        if (!paused) {
            return;
        }
        Process current = process;
        if (current != null && current.isAlive()) {
            JavaProcesses.signal(current.pid(), "CONT");
        }
        paused = false;
    }

    /**
     * Stops the broker gracefully (SIGTERM, then SIGKILL if it has not exited within the shutdown timeout), keeping
     * its data for {@link #restart()}. A paused broker is resumed first, since a frozen process cannot shut down.
     * Does nothing if the broker is not running.
     *
     * @throws IllegalStateException if the broker is closed
     */
    public synchronized void stop() {
        requireOpen();
        stopGracefully();
    }

    /**
     * Starts the broker again on the same ports with the same data, stopping it gracefully first if it is running,
     * and waits until it serves requests. Records acknowledged before a {@link #kill()} are still there.
     *
     * @throws EmbeddedKafkaException if the broker does not become ready within the startup timeout
     * @throws IllegalStateException  if the broker is closed
     */
    public synchronized void restart() {
        requireOpen();
        stopGracefully();
        launchAndAwaitReady();
    }

    /**
     * Stops the broker gracefully, as {@link #stop()} does, and deletes its temporary directory, with the data
     * unless the data directory was given to {@link Builder#dataDir(Path)}. Closing twice is harmless.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            stopGracefully();
        } finally {
            closed = true;
            reaperRegistration.cancel();
            deleteWorkDir();
        }
    }

    /**
     * The last lines of {@link #logFile()}, for failure messages.
     *
     * @param lines how many lines at most
     */
    public String logTail(int lines) {
        return readTail(logFile, lines);
    }

    @Override
    public String toString() {
        return "EmbeddedKafka[" + bootstrapServers() + ", pid " + lastPid + ", " + workDir + "]";
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Process management

    private void formatStorage() {
        List<String> command = javaCommand("256m", STORAGE_TOOL_MAIN);
        command.addAll(List.of("format", "--cluster-id", clusterId, "--config", configFile.toString(),
                // 4.x formats a single node as a dynamic quorum of one; without this flag (or an explicit list of
                // initial controllers) the format is refused when only controller.quorum.bootstrap.servers is set.
                "--standalone"));
        appendToLog("formatting " + dataDir + " for cluster " + clusterId);
        Instant started = Instant.now();
        Process format = startChild(command);
        try {
            if (!format.waitFor(settings.startupTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                format.destroyForcibly();
                awaitExit(format, Duration.ofSeconds(10));
                throw new EmbeddedKafkaException("formatting Kafka storage did not finish within "
                        + settings.startupTimeout() + describeLog());
            }
        } catch (InterruptedException e) {
            format.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while formatting Kafka storage", e);
        } finally {
            closeQuietly(format);
        }
        if (format.exitValue() != 0) {
            throw new EmbeddedKafkaException("formatting Kafka storage failed with exit status " + format.exitValue()
                    + describeLog());
        }
        LOG.debug("Formatted {} in {} ms", dataDir, Duration.between(started, Instant.now()).toMillis());
    }

    /** Must be called holding the lock, with no broker process running. */
    private void launchAndAwaitReady() {
        List<String> command = javaCommand(settings.maxHeap(), KAFKA_MAIN);
        command.add(configFile.toString());
        appendToLog("starting broker on " + bootstrapServers() + " (controller port " + controllerPort + ")");
        Instant started = Instant.now();
        Process launched = startChild(command);
        process = launched;
        lastPid = launched.pid();
        paused = false;
        try {
            awaitReady(launched, started);
        } catch (RuntimeException e) {
            // A half-started broker would hold the ports and confuse the next attempt.
            launched.destroyForcibly();
            awaitExit(launched, Duration.ofSeconds(10));
            forgetProcess();
            throw e;
        }
        LOG.info("Embedded Kafka broker ready at {} in {} ms (pid {}, log {})", bootstrapServers(),
                Duration.between(started, Instant.now()).toMillis(), launched.pid(), logFile);
    }

    private void awaitReady(Process launched, Instant started) {
        long deadline = System.nanoTime() + settings.startupTimeout().toNanos();
        // Until the listener accepts connections an admin client would only log connection warnings.
        while (!Reachability.isReachable(HOST, port, Duration.ofMillis(250))) {
            checkStillStarting(launched, deadline, started, null);
            sleep(POLL_INTERVAL);
        }
        Exception lastError = null;
        try (Admin admin = newAdmin()) {
            while (true) {
                checkStillStarting(launched, deadline, started, lastError);
                long remainingMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                try {
                    // The broker enables request processing only once it is registered and unfenced, so any answer
                    // listing a node means producers and consumers can be served.
                    Collection<Node> nodes = admin.describeCluster().nodes()
                            .get(Math.min(remainingMillis, ADMIN_REQUEST_TIMEOUT.toMillis()), TimeUnit.MILLISECONDS);
                    if (!nodes.isEmpty()) {
                        return;
                    }
                } catch (ExecutionException e) {
                    lastError = e.getCause() instanceof Exception cause ? cause : e;
                } catch (TimeoutException e) {
                    lastError = e;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new EmbeddedKafkaException("interrupted while waiting for the Kafka broker", e);
                }
                sleep(POLL_INTERVAL);
            }
        }
    }

    private void checkStillStarting(Process launched, long deadline, Instant started, Exception lastError) {
        if (!launched.isAlive()) {
            throw new EmbeddedKafkaException("the Kafka broker exited with status " + launched.exitValue()
                    + " while starting on " + bootstrapServers() + describeLog());
        }
        if (System.nanoTime() - deadline > 0) {
            throw new EmbeddedKafkaException("the Kafka broker (pid " + launched.pid() + ") did not become ready on "
                    + bootstrapServers() + " within " + Duration.between(started, Instant.now()).toSeconds() + " s"
                    + (lastError == null ? "" : "; last error: " + lastError) + describeLog());
        }
    }

    private void stopGracefully() {
        Process current = process;
        if (current == null) {
            return;
        }
        if (paused && current.isAlive()) {
            JavaProcesses.signal(current.pid(), "CONT");
        }
        paused = false;
        if (current.isAlive()) {
            // Through the handle, not Process.destroy(): that also closes the child's standard input, which
            // ChildMain takes for the death of this JVM and answers by halting, cutting the clean shutdown short.
            current.toHandle().destroy();
            if (!awaitExit(current, settings.shutdownTimeout())) {
                LOG.warn("Embedded Kafka broker (pid {}) did not stop within {}; killing it", current.pid(),
                        settings.shutdownTimeout());
                current.destroyForcibly();
                awaitExit(current, Duration.ofSeconds(30));
            }
        }
        forgetProcess();
    }

    private void forgetProcess() {
        Process current = process;
        if (current != null) {
            closeQuietly(current);
        }
        process = null;
        paused = false;
    }

    /** Runs at JVM exit; takes no lock (see {@link #process}). */
    private void killAndDeleteAtExit() {
        Process current = process;
        if (current != null) {
            current.destroyForcibly();
            awaitExit(current, Duration.ofSeconds(10));
        }
        // No logging: the logging framework may already be shutting down too.
        Directories.deleteRecursively(workDir);
    }

    /** Clean-up after a failed start: the caller never gets the instance, so nobody else can close it. */
    private void discard() {
        synchronized (this) {
            Process current = process;
            if (current != null) {
                current.destroyForcibly();
                awaitExit(current, Duration.ofSeconds(10));
                forgetProcess();
            }
            closed = true;
        }
        reaperRegistration.cancel();
        deleteWorkDir();
    }

    private List<String> javaCommand(String maxHeap, String mainClass) {
        List<String> command = new ArrayList<>();
        command.add(JavaProcesses.javaExecutable().toString());
        command.add(classpathArgument);
        command.add("-Xmx" + maxHeap);
        // A test broker serves little traffic: the serial collector and the C1 compiler start faster and use less
        // memory and CPU than G1 and C2, which matters on the two cores a test machine may have.
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-XX:+ExitOnOutOfMemoryError");
        command.add("-XX:-UsePerfData");
        command.add("-Djava.awt.headless=true");
        if (Runtime.version().feature() >= 23) {
            // Kafka unmaps buffers through sun.misc.Unsafe, which newer JDKs warn about on every start.
            command.add("--sun-misc-unsafe-memory-access=allow");
        }
        // Kafka logs through SLF4J and binds to whichever provider the class path offers; configure both likely ones.
        command.add("-Dlog4j2.configurationFile=" + workDir.resolve("log4j2.xml"));
        command.add("-Dlogback.configurationFile=" + workDir.resolve("logback.xml"));
        command.add("-Dcourier.broker.logLevel=" + settings.logLevel());
        command.add("-D" + ChildMain.ORPHAN_CLEANUP_DIR_PROPERTY + "=" + workDir);
        command.addAll(settings.jvmOptions());
        command.add(ChildMain.class.getName());
        command.add(mainClass);
        return command;
    }

    private Process startChild(List<String> command) {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        // The child must not inherit a debugger agent or options meant for this JVM.
        Map<String, String> environment = builder.environment();
        environment.remove("JAVA_TOOL_OPTIONS");
        environment.remove("JDK_JAVA_OPTIONS");
        environment.remove("_JAVA_OPTIONS");
        try {
            // Standard input stays a pipe that is never written to: ChildMain halts when it reaches end-of-file.
            return builder.start();
        } catch (IOException e) {
            throw new EmbeddedKafkaException("cannot start a child JVM: " + String.join(" ", command), e);
        }
    }

    private Admin newAdmin() {
        Map<String, Object> config = new HashMap<>();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, "courier-embedded-kafka-" + port);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) ADMIN_REQUEST_TIMEOUT.toMillis());
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) ADMIN_REQUEST_TIMEOUT.toMillis() * 2);
        config.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, 100);
        config.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        config.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, 2_000);
        config.put(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, 2_000);
        return Admin.create(config);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the embedded Kafka broker is closed");
        }
    }

    private void requireServing() {
        requireOpen();
        if (!isRunning()) {
            throw new IllegalStateException("the embedded Kafka broker is not running; restart() it first");
        }
        if (paused) {
            throw new IllegalStateException("the embedded Kafka broker is paused; resume() it first");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Files

    private void writeServerProperties() throws IOException {
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("process.roles", "broker,controller");
        properties.put("node.id", Integer.toString(NODE_ID));
        properties.put("controller.quorum.bootstrap.servers", HOST + ":" + controllerPort);
        String listeners = "PLAINTEXT://" + HOST + ":" + port + ",CONTROLLER://" + HOST + ":" + controllerPort;
        String advertised = listeners;
        String protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT";
        if (settings.proxiedPort() != 0) {
            listeners += ",PROXIED://" + HOST + ":" + settings.proxiedPort();
            advertised += ",PROXIED://" + HOST + ":" + settings.proxiedAdvertisedPort();
            protocols += ",PROXIED:PLAINTEXT";
        }
        properties.put("listeners", listeners);
        properties.put("advertised.listeners", advertised);
        properties.put("inter.broker.listener.name", "PLAINTEXT");
        properties.put("controller.listener.names", "CONTROLLER");
        properties.put("listener.security.protocol.map", protocols);
        properties.put("log.dirs", dataDir.toString());
        properties.put("num.partitions", Integer.toString(settings.partitions()));
        properties.put("default.replication.factor", "1");
        properties.put("min.insync.replicas", "1");
        properties.put("offsets.topic.replication.factor", "1");
        // Fifty partitions (the default) make the first consumer group wait while they are created; one is plenty.
        // The same goes for the transaction and share-group state topics below.
        properties.put("offsets.topic.num.partitions", "1");
        properties.put("transaction.state.log.replication.factor", "1");
        properties.put("transaction.state.log.min.isr", "1");
        properties.put("transaction.state.log.num.partitions", "1");
        properties.put("share.coordinator.state.topic.replication.factor", "1");
        properties.put("share.coordinator.state.topic.min.isr", "1");
        properties.put("share.coordinator.state.topic.num.partitions", "1");
        properties.put("group.initial.rebalance.delay.ms", "0");
        // After a kill the restarted broker cannot register until the controller has given up on its previous
        // incarnation, one broker session later: 9 s by default, 3 s here. Heartbeats are made more frequent to match.
        properties.put("broker.heartbeat.interval.ms", "500");
        properties.put("broker.session.timeout.ms", "3000");
        properties.put("auto.create.topics.enable", "true");
        // The cleaner's default 128 MiB dedupe buffer would take a quarter of a 512 MiB heap.
        properties.put("log.cleaner.dedupe.buffer.size", Integer.toString(8 * 1024 * 1024));
        properties.put("num.network.threads", "2");
        properties.put("num.io.threads", "4");
        properties.putAll(settings.brokerProperties());

        StringBuilder text = new StringBuilder("# Written by ").append(EmbeddedKafka.class.getName()).append('\n');
        new TreeMap<>(properties).forEach((key, value) ->
                text.append(key).append('=').append(value.replace("\\", "\\\\")).append('\n'));
        Files.writeString(configFile, text, StandardCharsets.UTF_8);
    }

    private static Optional<String> readClusterId(Path dataDir) throws IOException {
        Path meta = dataDir.resolve("meta.properties");
        if (!Files.isRegularFile(meta)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(meta)) {
            properties.load(in);
        }
        return Optional.ofNullable(properties.getProperty("cluster.id"));
    }

    private static void copyResource(String name, Path target) throws IOException {
        try (InputStream in = EmbeddedKafka.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource " + name + " is missing from courier-embedded");
            }
            Files.copy(in, target);
        }
    }

    private void appendToLog(String event) {
        String line = "=== " + Instant.now() + " [courier-embedded] " + event + System.lineSeparator();
        try {
            Files.writeString(logFile, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            LOG.debug("cannot write to {}", logFile, e);
        }
    }

    private String describeLog() {
        return System.lineSeparator() + "--- last lines of " + logFile + " ---" + System.lineSeparator()
                + readTail(logFile, LOG_TAIL_LINES);
    }

    static String readTail(Path file, int lines) {
        if (lines <= 0 || !Files.isRegularFile(file)) {
            return "";
        }
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            long length = in.length();
            long start = Math.max(0, length - LOG_TAIL_MAX_BYTES);
            byte[] bytes = new byte[(int) (length - start)];
            in.seek(start);
            in.readFully(bytes);
            List<String> all = new String(bytes, StandardCharsets.UTF_8).lines().toList();
            // A read that starts mid-file starts mid-line; that first fragment is dropped.
            int first = Math.max(start > 0 ? 1 : 0, all.size() - lines);
            return String.join(System.lineSeparator(), all.subList(Math.min(first, all.size()), all.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    private void deleteWorkDir() {
        if (!Directories.deleteRecursively(workDir)) {
            LOG.warn("Cannot delete all of {}", workDir);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Small helpers

    private static Class<?> kafkaMainClass() {
        try {
            return Class.forName(KAFKA_MAIN, false, EmbeddedKafka.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new EmbeddedKafkaException("org.apache.kafka:kafka_2.13 must be on the class path to run an"
                    + " embedded broker", e);
        }
    }

    /** Picks the ports not given, holding all of them open at once so that the two free ones differ. */
    private static int[] choosePorts(int port, int controllerPort) throws IOException {
        InetAddress loopback = InetAddress.getByName(HOST);
        try (ServerSocket first = new ServerSocket(0, 1, loopback);
                ServerSocket second = new ServerSocket(0, 1, loopback)) {
            int chosenPort = port > 0 ? port : first.getLocalPort();
            int chosenControllerPort = controllerPort > 0 ? controllerPort : second.getLocalPort();
            if (chosenPort == chosenControllerPort) {
                throw new IllegalArgumentException("the broker and controller ports must differ, both are "
                        + chosenPort);
            }
            return new int[] {chosenPort, chosenControllerPort};
        }
    }

    private static boolean awaitExit(Process process, Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    private static void closeQuietly(Process process) {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // The pipe only told the child we were alive; nothing to do if it is already broken.
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedKafkaException("interrupted while waiting for the Kafka broker", e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Configuration

    private record Settings(int partitions, String maxHeap, Path dataDir, int port, int controllerPort,
            Duration startupTimeout, Duration shutdownTimeout, String logLevel, List<String> jvmOptions,
            Map<String, String> brokerProperties, int proxiedPort, int proxiedAdvertisedPort) {
    }

    /**
     * Settings for an {@link EmbeddedKafka}. A builder may be reused; each {@link #start()} starts a new broker.
     */
    public static final class Builder {
        private int partitions = 3;
        private String maxHeap = "512m";
        private Path dataDir;
        private int port;
        private int controllerPort;
        private Duration startupTimeout = Duration.ofSeconds(60);
        private Duration shutdownTimeout = Duration.ofSeconds(30);
        private String logLevel = "WARN";
        private final List<String> jvmOptions = new ArrayList<>();
        private final Map<String, String> brokerProperties = new LinkedHashMap<>();
        private int proxiedPort;
        private int proxiedAdvertisedPort;

        private Builder() {
        }

        /**
         * Adds a third listener, {@code PROXIED}, on {@code port}, that tells clients to connect to
         * {@code advertisedPort} instead: put a TCP proxy (such as the test kit's
         * {@code dev.courier.testkit.chaos.FaultProxy}) on that port, forwarding to {@code port}, and every connection
         * of a client bootstrapped with {@link EmbeddedKafka#proxiedBootstrapServers()} goes through the proxy, the
         * ones to the partition leaders and the group coordinator included (Kafka clients connect to the advertised
         * address, not the bootstrap one). The broker's own listeners stay direct.
         */
        public Builder proxiedListener(int port, int advertisedPort) {
            this.proxiedPort = requirePort(port);
            this.proxiedAdvertisedPort = requirePort(advertisedPort);
            return this;
        }

        /**
         * The partition count of topics created automatically ({@code num.partitions}); default 3.
         *
         * @param partitions at least 1
         */
        public Builder partitions(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions must be at least 1, was " + partitions);
            }
            this.partitions = partitions;
            return this;
        }

        /**
         * The broker JVM's maximum heap, in {@code -Xmx} notation; default {@code 512m}.
         *
         * @param maxHeap such as {@code 256m} or {@code 1g}
         */
        public Builder maxHeap(String maxHeap) {
            if (maxHeap == null || !HEAP_SIZE.matcher(maxHeap).matches()) {
                throw new IllegalArgumentException("maxHeap must look like 512m or 1g, was " + maxHeap);
            }
            this.maxHeap = maxHeap;
            return this;
        }

        /**
         * Keeps the broker's data in this directory instead of the temporary one, and leaves it there on
         * {@link EmbeddedKafka#close()}. A directory formatted by an earlier broker is reused as it is (its cluster
         * id included); give that broker's ports too, since the controller's address is recorded in the metadata.
         */
        public Builder dataDir(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
            return this;
        }

        /**
         * A fixed port for the client listener instead of a free one picked at start.
         *
         * @param port 1 to 65535
         */
        public Builder port(int port) {
            this.port = requirePort(port);
            return this;
        }

        /**
         * A fixed port for the controller listener instead of a free one picked at start.
         *
         * @param controllerPort 1 to 65535
         */
        public Builder controllerPort(int controllerPort) {
            this.controllerPort = requirePort(controllerPort);
            return this;
        }

        /** How long a start or restart may take before it fails; default 60 seconds. */
        public Builder startupTimeout(Duration startupTimeout) {
            this.startupTimeout = requirePositive(startupTimeout, "startupTimeout");
            return this;
        }

        /** How long a graceful stop may take before the broker is killed; default 30 seconds. */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            this.shutdownTimeout = requirePositive(shutdownTimeout, "shutdownTimeout");
            return this;
        }

        /**
         * The level of the broker's own log in {@link EmbeddedKafka#logFile()}; default {@code WARN}.
         *
         * @param logLevel one of TRACE, DEBUG, INFO, WARN, ERROR, OFF
         */
        public Builder logLevel(String logLevel) {
            if (logLevel == null || !LOG_LEVEL.matcher(logLevel).matches()) {
                throw new IllegalArgumentException("not a log level: " + logLevel);
            }
            this.logLevel = logLevel.toUpperCase(Locale.ROOT);
            return this;
        }

        /** Adds an option for the broker's JVM, after the defaults so that it can override them. */
        public Builder jvmOption(String option) {
            jvmOptions.add(Objects.requireNonNull(option, "option"));
            return this;
        }

        /**
         * Sets a broker property, overriding this class's value if it sets one. Overriding the listeners, the
         * roles or {@code log.dirs} breaks the broker.
         */
        public Builder brokerProperty(String key, String value) {
            brokerProperties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Starts a broker with these settings and waits until it serves requests.
         *
         * @throws EmbeddedKafkaException if the broker cannot be prepared or does not become ready in time
         */
        public EmbeddedKafka start() {
            if (port != 0 && port == controllerPort) {
                throw new IllegalArgumentException("the broker and controller ports must differ, both are " + port);
            }
            return EmbeddedKafka.start(new Settings(partitions, maxHeap, dataDir, port, controllerPort,
                    startupTimeout, shutdownTimeout, logLevel, List.copyOf(jvmOptions),
                    Map.copyOf(brokerProperties), proxiedPort, proxiedAdvertisedPort));
        }

        private static int requirePort(int port) {
            if (port < 1 || port > 65_535) {
                throw new IllegalArgumentException("not a port: " + port);
            }
            return port;
        }

        private static Duration requirePositive(Duration duration, String name) {
            if (duration == null || duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException(name + " must be positive, was " + duration);
            }
            return duration;
        }
    }
}
