package dev.courier.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.function.BooleanSupplier;

import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxStatus;
import dev.courier.testkit.TestDatabase;
import dev.courier.testkit.chaos.ChaosTables;
import dev.courier.testkit.chaos.CheckReport;
import dev.courier.testkit.chaos.DeliveryChecker;
import dev.courier.testkit.chaos.FaultProxy;
import dev.courier.testkit.chaos.History;
import dev.courier.testkit.chaos.ProcessHarness;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One chaos scenario on one transport: a fresh schema and destination (topic, exchange and queues, or stream), the
 * writer, relays and consumers as child JVMs, the faults the scenario injects, and at the end the delivery checker's
 * verdict on database truth.
 *
 * <p>The relays hold their claims in one of the relay's three modes: {@code lease} (the default, or the environment's
 * {@code COURIER_RELAY_CLAIM_MODE}), {@code lock}, or {@code log}. A run in log mode turns its outbox to log mode with
 * {@value #LOG_PARTITIONS} partitions before anything is written, starts {@value #LOG_RELAYS} relays wherever a
 * scenario would start fewer, and asks the checker for log mode's promise, per-key order with any number of relays
 * (where the transport keeps it up to the consumer), instead of the one-relay order check.
 *
 * <p>Every wait has a bound; on failure the report names the scenario, its claim mode and its seed, lists the faults
 * with their times and the history of each anomalous event, and quotes the children's last output lines.
 */
final class ChaosRun implements AutoCloseable {

    static final int PARTITIONS = KafkaBroker.PARTITIONS;
    static final int ROLLBACK_PERCENT = 6;
    static final int POISON_EVERY = 1_000;
    /** The partitions of a log-mode run's outbox. */
    static final int LOG_PARTITIONS = 16;
    /** The relays a log-mode run starts at least. */
    static final int LOG_RELAYS = 3;
    static final Duration WRITER_BOUND = Duration.ofMinutes(5);
    /** The consumers every scenario's destination is prepared for (queues must exist before publishing). */
    static final List<String> CONSUMERS = List.of("consumer-1");
    static final Duration DRAIN_BOUND = Duration.ofMinutes(3);
    static final Path REPORTS = Path.of("target", "chaos-reports");
    /** The system property naming where the children's output goes (default {@code target/chaos-children}). */
    static final String CHILDREN_DIR_PROPERTY = "courier.chaos.childrenDir";

    private static final Logger LOG = LoggerFactory.getLogger(ChaosRun.class);

    final String scenario;
    final long seed;
    final SplittableRandom random;
    final int events;
    /** Whether the scenario and transport keep per-key order with one relay (asserted in lease and lock mode). */
    final boolean ordered;
    /** Whether the transport keeps the relays' per-key order up to the consumer under the scenario's faults. */
    final boolean keyOrdered;
    final ChaosBroker broker;
    final String runId = UUID.randomUUID().toString().substring(0, 8);
    /** The destination: a Kafka topic, a RabbitMQ exchange or a NATS subject. */
    final String topic;
    final String relayApp;
    final String consumerApp;
    final ProcessHarness harness;
    private final TestDatabase database;
    private final PGSimpleDataSource schema;
    private final List<FaultProxy> proxies = new ArrayList<>();
    private final List<String> consumers = new ArrayList<>();
    private final List<String> services = new ArrayList<>();
    private final long started = System.nanoTime();
    private Instant writerDone;
    private Path reports = REPORTS;
    private Duration writerBound = WRITER_BOUND;
    private Outcome outcome;
    private Duration progressBound = Duration.ofMinutes(2);
    private final List<Path> deleteOnClose = new ArrayList<>();
    /** How this run's relays hold their claims: the environment's COURIER_RELAY_CLAIM_MODE, else lease. */
    private String claimMode = "lease";
    private boolean writerStarted;
    private final OutboxAdmin outboxAdmin;

    /**
     * What a finished run reports, for the long profile's tables.
     *
     * @param drainMillis -1 when not measured
     */
    record Outcome(String transport, String scenario, String claimMode, int relays, long seed, int attempts,
            long committed, long rolledBack, long poison, int faults, long wireDuplicates, long keyOrderViolations,
            long drainMillis, long elapsedSeconds, boolean drained, boolean passed, String text, String json) {
    }

    ChaosRun(String scenario, long seed, int events, boolean ordered, boolean keyOrdered, ChaosBroker broker) {
        this.scenario = scenario;
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        this.events = events;
        this.ordered = ordered;
        this.keyOrdered = keyOrdered;
        this.broker = broker;
        this.database = TestDatabase.shared();
        this.schema = database.freshSchema("chaos_" + scenario.replace('-', '_'));
        Schema.migrate(schema, CourierTables.DEFAULT);
        ChaosTables.create(schema);
        this.outboxAdmin = new OutboxAdmin(schema, CourierTables.DEFAULT, Clock.systemUTC(), Duration.ZERO);
        this.topic = "chaos-" + scenario + "-" + runId;
        try {
            broker.createDestination(topic, CONSUMERS);
        } catch (RuntimeException e) {
            // no run, no schema left behind
            database.dropSchema(schema);
            throw e;
        }
        this.relayApp = "chaos-relay-" + runId;
        this.consumerApp = "chaos-consumer-" + runId;
        this.harness = new ProcessHarness(Path.of(System.getProperty(CHILDREN_DIR_PROPERTY,
                "target/chaos-children"), broker.transport(), scenario),
                Clock.systemUTC());
        LOG.info("{} scenario {} seed {}: {} attempts, destination {}, schema {}", broker.transport(), scenario, seed,
                events, topic, schema.getCurrentSchema());
        String fromEnvironment = System.getenv("COURIER_RELAY_CLAIM_MODE");
        if (fromEnvironment != null) {
            try {
                claimMode(fromEnvironment.toLowerCase(java.util.Locale.ROOT));
            } catch (RuntimeException e) {
                // no run, no schema or destination left behind
                close();
                throw e;
            }
        }
    }

    /** Where the reports go (default {@code target/chaos-reports}); each transport gets a directory in it. */
    ChaosRun reportsTo(Path directory) {
        this.reports = directory;
        return this;
    }

    /** How long the writer may take before the run fails (default 5 minutes). */
    ChaosRun writerBound(Duration bound) {
        this.writerBound = bound;
        return this;
    }

    /** How long a scenario may wait for one step of progress (default 2 minutes). */
    ChaosRun progressBound(Duration bound) {
        this.progressBound = bound;
        return this;
    }

    Duration progressBound() {
        return progressBound;
    }

    /** A file deleted when the run closes. */
    void deleteOnClose(Path file) {
        deleteOnClose.add(file);
    }

    /** The outcome of {@link #finish()}, or {@code null} before it wrote its report. */
    Outcome outcome() {
        return outcome;
    }

    /** A fault proxy in front of the broker, for the clients' broker link; closed with the run. */
    FaultProxy brokerProxy() throws IOException {
        FaultProxy proxy = broker.proxy();
        proxies.add(proxy);
        return proxy;
    }

    /** The JDBC URL of this run's schema, directly or through a proxy. */
    String jdbcUrl(FaultProxy through) {
        String url = schema.getUrl();
        if (through == null) {
            return url;
        }
        String direct = database.jdbcUrl();
        String hostPort = direct.substring("jdbc:postgresql://".length(), direct.indexOf('/', "jdbc:postgresql://".length()));
        return url.replace(hostPort, through.address());
    }

    /** A fault proxy in front of the database, closed with the run. */
    FaultProxy databaseProxy() throws IOException {
        String direct = database.jdbcUrl();
        String hostPort = direct.substring("jdbc:postgresql://".length(), direct.indexOf('/', "jdbc:postgresql://".length()));
        int colon = hostPort.lastIndexOf(':');
        FaultProxy proxy = FaultProxy.start(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
        proxies.add(proxy);
        return proxy;
    }

    private List<String> common(String app, String url) {
        List<String> args = new ArrayList<>(List.of("jdbcUrl=" + url, "applicationName=" + app));
        if (database.user() != null) {
            args.add("dbUser=" + database.user());
        }
        return args;
    }

    private Map<String, String> environment() {
        return database.password() == null ? Map.of() : Map.of(Args.PASSWORD_ENV, database.password());
    }

    void startWriter(int perSecond) {
        writerStarted = true;
        List<String> args = common("chaos-writer-" + runId, jdbcUrl(null));
        args.addAll(List.of("topic=" + topic, "attempts=" + events, "seed=" + seed,
                "rollbackPercent=" + ROLLBACK_PERCENT, "poisonEvery=" + POISON_EVERY, "perSecond=" + perSecond));
        harness.start(new ProcessHarness.Role("writer", ChaosWriter.class, args, List.of("-Xmx128m"), environment()));
    }

    /**
     * Runs this run's relays in claim mode {@code lease}, {@code lock} or {@code log}; {@code log} turns the outbox to
     * log mode with {@value #LOG_PARTITIONS} partitions, so it must come before the writer starts.
     */
    ChaosRun claimMode(String mode) {
        if (!List.of("lease", "lock", "log").contains(mode)) {
            throw new IllegalArgumentException("claim mode lease, lock or log, not " + mode);
        }
        if (writerStarted) {
            throw new IllegalStateException("the claim mode is set before the writer starts");
        }
        if (mode.equals("log") && !logMode()) {
            Schema.enableLogMode(schema, CourierTables.DEFAULT, LOG_PARTITIONS);
        } else if (!mode.equals("log") && logMode()) {
            throw new IllegalStateException("the outbox of this run is in log mode already");
        }
        this.claimMode = mode;
        return this;
    }

    String claimMode() {
        return claimMode;
    }

    boolean logMode() {
        return claimMode.equals("log");
    }

    /**
     * The names of the relays a scenario starts when it wants {@code wanted} of them: that many, but in log mode at
     * least {@value #LOG_RELAYS}.
     */
    List<String> relayNames(int wanted) {
        int n = logMode() ? Math.max(wanted, LOG_RELAYS) : wanted;
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            names.add("relay-" + i);
        }
        return names;
    }

    /** The relays of a scenario that wants one: relay-1, and in log mode relay-2 and relay-3 as well. */
    List<String> relayNames() {
        return relayNames(1);
    }

    /**
     * Starts the relays of a scenario that wants one ({@link #relayNames()}); relay-1's database link goes through
     * {@code db} and its broker link through {@code brokerLink} (either null), the others' go straight.
     */
    void startRelays(FaultProxy db, FaultProxy brokerLink, String... extra) {
        startRelays(1, db, brokerLink, extra);
    }

    /** As {@link #startRelays(FaultProxy, FaultProxy, String...)} for a scenario that wants {@code wanted} relays. */
    void startRelays(int wanted, FaultProxy db, FaultProxy brokerLink, String... extra) {
        List<String> names = relayNames(wanted);
        startRelayVia(names.getFirst(), db, brokerLink, extra);
        for (String name : names.subList(1, names.size())) {
            startRelayVia(name, null, null, extra);
        }
    }

    void startRelay(String name, FaultProxy through, String... extra) {
        startRelayVia(name, through, null, extra);
    }

    /** A relay whose database link goes through {@code db} and broker link through {@code brokerLink} (either null). */
    void startRelayVia(String name, FaultProxy db, FaultProxy brokerLink, String... extra) {
        // each relay's sessions carry the run's relay application name and its own name after a slash
        List<String> args = common(relayApp + "/" + name, jdbcUrl(db));
        args.addAll(broker.clientArgs(brokerLink));
        args.add("relayId=" + name);
        args.add("claimMode=" + claimMode);
        args.addAll(List.of(extra));
        services.add(name);
        harness.start(new ProcessHarness.Role(name, ChaosRelay.class, args, List.of("-Xmx192m"), environment()));
    }

    void startConsumer(String name, FaultProxy through, String... extra) {
        startConsumerVia(name, through, null, extra);
    }

    /** A consumer whose database link goes through {@code db} and broker link through {@code brokerLink}. */
    void startConsumerVia(String name, FaultProxy db, FaultProxy brokerLink, String... extra) {
        if (!CONSUMERS.contains(name)) {
            throw new IllegalArgumentException("the destination was prepared for " + CONSUMERS + ", not " + name);
        }
        List<String> args = common(consumerApp, jdbcUrl(db));
        args.addAll(broker.clientArgs(brokerLink));
        args.addAll(List.of("topic=" + topic, "consumer=" + name));
        args.addAll(List.of(extra));
        if (!consumers.contains(name)) {
            consumers.add(name);
            services.add(name);
        }
        harness.start(new ProcessHarness.Role(name, ChaosConsumer.class, args, List.of("-Xmx192m"), environment()));
    }

    /** The usual cast: writer, one relay (three in log mode), one consumer, all straight to the database. */
    void startAll(int perSecond) {
        startConsumer("consumer-1", null);
        startRelays(null, null);
        startWriter(perSecond);
    }

    /** Committed events expected by the end, roughly: used only to place faults by progress. */
    long expectedCommitted() {
        return Math.round(events * (100 - ROLLBACK_PERCENT) / 100.0);
    }

    /** Waits until this share of the expected events is published (marked in the outbox). */
    void awaitPublished(double share) {
        long target = Math.round(expectedCommitted() * share);
        await("published >= " + target, progressBound, () -> published() >= target);
    }

    /**
     * In log mode, waits until a relay has written the cursor of a partition it holds since {@code since} (it took
     * the partition, or renewed its lease), which shows it working again after a fault; in lease and lock mode there
     * is nothing to wait for.
     */
    void awaitHoldingPartitions(String relay, Instant since) {
        if (logMode()) {
            await(relay + " writing a partition's cursor after " + since, progressBound, () -> queryLong(
                    "SELECT count(*) FROM " + CourierTables.DEFAULT.outboxPartitions() + " WHERE owner LIKE '" + relay
                            + "-%' AND lease_until > now() AND updated_at > '" + since + "'::timestamptz") > 0);
        }
    }

    /** Who {@link #terminateBackends} of {@link #relayApp} reaches, for the fault's description. */
    String relaysWord() {
        return relayNames().size() > 1 ? "relays'" : "relay's";
    }

    /** Waits until a consumer has applied this share of the expected events. */
    void awaitApplied(String consumer, double share) {
        long target = Math.round(expectedCommitted() * share);
        await(consumer + " applied >= " + target, progressBound,
                () -> ChaosTables.effectCount(schema, consumer) >= target);
    }

    /** Waits until this share of the expected events has committed. */
    void awaitCommitted(double share) {
        long target = Math.round(expectedCommitted() * share);
        await("committed >= " + target, progressBound, () -> ChaosTables.committedCount(schema) >= target);
    }

    /**
     * The outbox rows published so far: marked so, or in log mode, where no row is written on publishing, every row
     * that its partition's cursor has passed (what the operator's outbox status does not count as waiting or dead).
     */
    long published() {
        if (!logMode()) {
            return queryLong("SELECT count(*) FROM courier_outbox WHERE status = 'PUBLISHED'");
        }
        long rows = queryLong("SELECT count(*) FROM courier_outbox");
        OutboxStatus status = outboxAdmin.status();
        return rows - status.pending() - status.dead();
    }

    /** The outbox rows not published: waiting, or parked dead. */
    long unpublished() {
        if (!logMode()) {
            return queryLong("SELECT count(*) FROM courier_outbox WHERE status <> 'PUBLISHED'");
        }
        OutboxStatus status = outboxAdmin.status();
        return status.pending() + status.dead();
    }

    /** A duration drawn from the seed, between the bounds. */
    Duration between(Duration min, Duration max) {
        return min.plusMillis(random.nextLong(Math.max(1, max.minus(min).toMillis() + 1)));
    }

    /** A share drawn from the seed around {@code nominal}, at most {@code spread} away. */
    double around(double nominal, double spread) {
        return nominal - spread + random.nextDouble() * 2 * spread;
    }

    /**
     * Terminates the database backends of one application name in this database, and of the names under it
     * ({@code name/...}, each relay's): only the run's own processes carry them, so no other session is touched.
     *
     * @return how many backends were terminated
     */
    int terminateBackends(String applicationName) {
        try (Connection c = schema.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE (application_name"
                        + " = ? OR starts_with(application_name, ?)) AND datname = current_database()"
                        + " AND pid <> pg_backend_pid()")) {
            ps.setString(1, applicationName);
            ps.setString(2, applicationName + "/");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot terminate the backends of " + applicationName, e);
        }
    }

    /**
     * Freezes a relay with SIGSTOP while it holds claimed rows that it has not marked yet (in log mode: leased
     * partitions with a batch open, whose cursor has not passed all of it), so that its lease expires with the rows
     * in flight. A pause that lands after the relay marked its rows is undone and tried again.
     *
     * @throws AssertionError if no pause lands on a claim within a minute
     */
    void pauseWhileHoldingClaims(String relay, String why) {
        // a lease is written into the rows; row locks show as the relay's claim transaction, idle while it publishes;
        // a log-mode relay's hold is its partitions' leases, with their cursors
        String held = switch (claimMode) {
            case "lock" -> "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + relayApp + "/" + relay
                    + "' AND state = 'idle in transaction' AND backend_xid IS NOT NULL";
            case "log" -> "SELECT count(*) FROM " + CourierTables.DEFAULT.outboxPartitions() + " WHERE owner LIKE '"
                    + relay + "-%' AND lease_until > now() AND batch_snapshot IS NOT NULL";
            default -> "SELECT count(*) FROM courier_outbox WHERE status = 'PENDING' AND claimed_by LIKE '" + relay
                    + "-%' AND available_at > now()";
        };
        // A log relay writes a batch's snapshot with its cursor only while the batch is partly confirmed, so a
        // loaded machine can pass a whole scenario without the query seeing one: after 20 s its leased partitions
        // alone count as its hold (the others must still take them over, fenced)
        String leasedOnly = "SELECT count(*) FROM " + CourierTables.DEFAULT.outboxPartitions() + " WHERE owner LIKE '"
                + relay + "-%' AND lease_until > now()";
        long relaxAt = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (System.nanoTime() < deadline) {
            if (claimMode.equals("log") && System.nanoTime() - relaxAt > 0) {
                held = leasedOnly;
            }
            if (queryLong(held) > 0) {
                harness.process(relay).pause();
                if (queryLong(held) > 0) {
                    // already stopped: this records the pause
                    harness.pause(relay, why + ", holding " + queryLong(held) + switch (claimMode) {
                        case "lock" -> " open claim transaction(s)";
                        case "log" -> held.equals(leasedOnly) ? " leased partition(s), none with a batch open seen in 20 s"
                                : " leased partition(s) with a batch open";
                        default -> " claimed row(s)";
                    });
                    return;
                }
                harness.process(relay).resume();
            }
            sleep(Duration.ofMillis(1));
        }
        throw new AssertionError("scenario " + scenario + " (seed " + seed + "): " + relay + " never held a claim");
    }

    /** Sleeps, for fault durations; everything else in a scenario waits on a condition. */
    static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Waits for the writer to finish and for every consumer to have an outcome for every committed event, then
     * checks the history and writes the report.
     */
    CheckReport finish() {
        harness.awaitExit("writer", writerBound);
        writerDone = Instant.now();
        long committed = ChaosTables.committedCount(schema);
        // drained when nothing is pending and every consumer has an effect or a dead letter for every event
        boolean drained = awaitQuietly(DRAIN_BOUND, () -> {
            if (unpublished() > 0) {
                return false;
            }
            for (String consumer : consumers) {
                long outcomes = queryLong("SELECT count(*) FROM chaos_orders o WHERE EXISTS (SELECT 1 FROM"
                        + " chaos_effects e WHERE e.event_id = o.event_id AND e.consumer = '" + consumer + "') OR"
                        + " EXISTS (SELECT 1 FROM courier_dead_letters d WHERE d.event_id = o.event_id AND d.consumer"
                        + " = '" + consumer + "')");
                if (outcomes < committed) {
                    return false;
                }
            }
            return true;
        });
        // let late redeliveries land, so a double effect has the chance to show
        sleep(Duration.ofMillis(1_500));
        Instant healed = harness.lastHealed();
        Instant drainFrom = healed == null || writerDone.isAfter(healed) ? writerDone : healed;
        History history = ChaosTables.readHistory(schema, CourierTables.DEFAULT, scenario, seed, consumers,
                broker.wireCopies(topic), ordered && !logMode(), keyOrdered && logMode(), harness.faults(), drainFrom);
        CheckReport report = DeliveryChecker.check(history);
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        write(report, elapsed, drained);
        if (!report.passed() || !drained) {
            throw new AssertionError(describe() + "; in this claim mode: " + report.reproduce()
                    + " -Dcourier.chaos.claimMode=" + claimMode + "\n"
                    + (drained ? "" : "NOT DRAINED within " + DRAIN_BOUND + "\n") + report.toText()
                    + "\nchildren's last output:\n" + harness.logTails(25));
        }
        return report;
    }

    /** The run in a line: transport, scenario, claim mode and relays, seed. */
    String describe() {
        return broker.transport() + " scenario " + scenario + " in claim mode " + claimMode + " (" + relaysStarted()
                + " relay(s)" + (logMode() ? ", " + LOG_PARTITIONS + " partitions" : "") + "), seed " + seed;
    }

    private int relaysStarted() {
        return (int) services.stream().filter(s -> s.startsWith("relay-")).count();
    }

    /**
     * The name of the run's report files: {@code <scenario>-<seed>}, with the claim mode after the scenario when it
     * is not the default lease.
     */
    String reportName() {
        return scenario + (claimMode.equals("lease") ? "" : "-" + claimMode) + "-" + seed;
    }

    private void write(CheckReport report, Duration elapsed, boolean drained) {
        String line = String.format("%-9s %-34s %-5s relays %d seed %-20d attempts %6d committed %6d rolled back %4d"
                        + " poison %2d faults %2d wire duplicates %5d key order violations %d%s drain %6s ms elapsed %4d"
                        + " s %s%n", broker.transport(), scenario, claimMode, relaysStarted(), seed, events,
                report.committed(), report.rolledBack(), report.poison(), report.history().faults().size(),
                report.wireDuplicates(), report.keyOrderViolations().size(),
                report.history().keyOrdered() ? "" : " (not promised)",
                report.drainTime() == null ? "-" : report.drainTime().toMillis(), elapsed.toSeconds(),
                report.passed() && drained ? "PASSED" : "FAILED");
        outcome = new Outcome(broker.transport(), scenario, claimMode, relaysStarted(), seed, events,
                report.committed(), report.rolledBack(), report.poison(), report.history().faults().size(),
                report.wireDuplicates(), report.keyOrderViolations().size(),
                report.drainTime() == null ? -1 : report.drainTime().toMillis(), elapsed.toSeconds(), drained,
                report.passed() && drained, report.toText(), report.toJson());
        LOG.info("{}{}", line, report.toText());
        try {
            Path dir = reports.resolve(broker.transport());
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(reportName() + ".txt"), describe() + "\n" + report.toText(),
                    StandardCharsets.UTF_8);
            Files.writeString(dir.resolve(reportName() + ".json"), report.toJson(), StandardCharsets.UTF_8);
            Files.writeString(reports.resolve("summary.txt"), line, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            LOG.warn("cannot write the report of {}", scenario, e);
        }
    }

    long queryLong(String sql) {
        try (Connection c = schema.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot run " + sql, e);
        }
    }

    void await(String what, Duration bound, BooleanSupplier condition) {
        if (!awaitQuietly(bound, condition)) {
            throw new AssertionError("scenario " + scenario + " (seed " + seed + "): not " + what + " within " + bound
                    + "; faults so far " + harness.faults() + "\nchildren's last output:\n" + harness.logTails(25));
        }
    }

    /** Fails at once if a relay or consumer died without being killed by the scenario. */
    private void requireServicesAlive() {
        for (String name : services) {
            if (!harness.process(name).isAlive()) {
                throw new AssertionError("scenario " + scenario + " (seed " + seed + "): " + name + " died by itself"
                        + "\nchildren's last output:\n" + harness.logTails(40));
            }
        }
    }

    private boolean awaitQuietly(Duration bound, BooleanSupplier condition) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (System.nanoTime() < deadline) {
            requireServicesAlive();
            if (condition.getAsBoolean()) {
                return true;
            }
            sleep(Duration.ofMillis(100));
        }
        return condition.getAsBoolean();
    }

    @Override
    public void close() {
        harness.close();
        proxies.forEach(FaultProxy::close);
        broker.heal();
        broker.deleteDestination(topic, CONSUMERS);
        for (Path file : deleteOnClose) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.warn("cannot delete {}", file);
            }
        }
        try {
            database.dropSchema(schema);
        } catch (RuntimeException e) {
            LOG.warn("cannot drop schema {}", schema.getCurrentSchema(), e);
        }
    }
}
