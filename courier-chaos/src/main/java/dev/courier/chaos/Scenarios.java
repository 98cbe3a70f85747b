package dev.courier.chaos;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.courier.testkit.chaos.CheckReport;
import dev.courier.testkit.chaos.FaultProxy;

/**
 * The chaos scenarios, by name, and which transports run each: one catalogue for the CI profile (the
 * {@code *ChaosTest} classes) and the long profile ({@code ./courier chaos}).
 *
 * <p>A scenario starts the writer, relay(s) and consumer of a {@link ChaosRun}, injects its faults at points drawn
 * from the seed around a nominal progress, and leaves the waiting and the verdict to {@link ChaosRun#finish()}.
 * Per-key order is asserted only where both the relays and the transport promise it. The relays: in lease and lock
 * mode only one relay whose publishes and marks are not disturbed ({@link Scenario#orderedOn()}); in log mode any
 * number of relays under any fault, so a log-mode run asserts it wherever the transport keeps it
 * ({@link Scenario#keyOrderedOn()}). The transports: Kafka keeps a key's order through consumer restarts (a partition
 * is consumed in order); RabbitMQ and JetStream keep it only while the consumer retries nothing (a returned or
 * unacknowledged message is redelivered after later ones), so there only the scenarios whose faults stay on the
 * publishing side assert it.
 */
final class Scenarios {

    static final String KAFKA = "kafka";
    static final String RABBITMQ = "rabbitmq";
    static final String NATS = "nats";
    static final List<String> TRANSPORTS = List.of(KAFKA, RABBITMQ, NATS);

    /** The faults of a scenario, given a run whose destination, schema and broker are ready. */
    @FunctionalInterface
    interface Body {
        void inject(ChaosRun run, int perSecond) throws Exception;
    }

    /**
     * One scenario.
     *
     * @param transports   the transports it runs on
     * @param orderedOn    the transports on which per-key order is asserted in lease and lock mode
     * @param keyOrderedOn the transports on which per-key order is asserted in log mode: those that keep a key's order
     *                     up to the consumer under the scenario's faults, whatever the relays go through
     */
    record Scenario(String name, Set<String> transports, Set<String> orderedOn, Set<String> keyOrderedOn,
            String faults, Body body) {
        boolean runsOn(String transport) {
            return transports.contains(transport);
        }

        boolean ordered(String transport) {
            return orderedOn.contains(transport);
        }

        boolean keyOrdered(String transport) {
            return keyOrderedOn.contains(transport);
        }

        /** Whether order is asserted on this transport in this claim mode. */
        boolean ordered(String transport, String claimMode) {
            return claimMode.equals("log") ? keyOrdered(transport) : ordered(transport);
        }
    }

    private static final Set<String> ALL = Set.of(KAFKA, RABBITMQ, NATS);
    private static final Set<String> KAFKA_ONLY = Set.of(KAFKA);
    private static final Set<String> NONE = Set.of();
    private static final Map<String, Scenario> CATALOGUE = new LinkedHashMap<>();

    static {
        // in log mode: three relays wherever one is named below (relay-1 takes the faults aimed at "the relay")
        add("baseline", ALL, ALL, ALL, "none (rollbacks and poison only)", (run, pace) -> run.startAll(pace));
        add("relay-killed-20-40-60", ALL, ALL, ALL,
                "relay kill -9 at about 20, 40 and 60% published, restarted at once (log mode: relay-1, -2 and -3 in"
                        + " turn)", Scenarios::relayKilled);
        add("writer-killed", KAFKA_ONLY, KAFKA_ONLY, KAFKA_ONLY,
                "writer kill -9 at about 30 and 60% committed, restarted", Scenarios::writerKilled);
        add("relay-paused-beyond-lease", ALL, NONE, ALL,
                "two relays (log mode: three); relay-1 SIGSTOPped holding claims for 8.5-10 s against a 4 s lease",
                Scenarios::relayPaused);
        add("consumer-killed-before-ack", ALL, KAFKA_ONLY, KAFKA_ONLY,
                "consumer blocked after an effect committed and before its ack, kill -9ed there, restarted",
                Scenarios::consumerKilledBeforeAck);
        add("consumer-killed-at-random", ALL, KAFKA_ONLY, KAFKA_ONLY,
                "consumer kill -9 at about 20, 50 and 80% applied, restarted", Scenarios::consumerKilledAtRandom);
        add("broker-killed-and-restarted", Set.of(KAFKA, NATS), NONE, KAFKA_ONLY,
                "broker process kill -9 at about 40% published, restarted after 2-5 s", Scenarios::brokerRestarted);
        add("broker-stopped-and-restarted", Set.of(RABBITMQ), NONE, NONE,
                "rabbitmqctl stop_app at about 40% published, start_app after 2-5 s", Scenarios::brokerRestarted);
        add("broker-paused", KAFKA_ONLY, NONE, KAFKA_ONLY, "broker SIGSTOPped for 3-6 s at about 40%",
                Scenarios::brokerPaused);
        add("relay-backends-terminated", KAFKA_ONLY, KAFKA_ONLY, KAFKA_ONLY,
                "pg_terminate_backend of the relays' backends at about 25, 50 and 75%", Scenarios::relayBackends);
        add("consumer-backends-terminated", KAFKA_ONLY, KAFKA_ONLY, KAFKA_ONLY,
                "pg_terminate_backend of the consumer's backends at about 25, 50 and 75%", Scenarios::consumerBackends);
        add("db-backends-terminated", Set.of(RABBITMQ, NATS), NONE, NONE,
                "pg_terminate_backend of the relays', then the consumer's backends, at about 20, 40, 60 and 80%",
                Scenarios::bothBackends);
        add("relay-db-latency-and-slicing", KAFKA_ONLY, KAFKA_ONLY, KAFKA_ONLY,
                "relay-1's database link: 25 ms latency, then 16-byte slices", Scenarios::relayDbLatency);
        add("relay-db-reset", KAFKA_ONLY, NONE, KAFKA_ONLY, "relay-1's database connections reset 5 times",
                Scenarios::relayDbReset);
        add("relay-db-blackhole", KAFKA_ONLY, NONE, KAFKA_ONLY, "relay-1's database link blackholed for 4-7 s",
                Scenarios::relayDbBlackhole);
        add("relay-db-half-open", KAFKA_ONLY, NONE, KAFKA_ONLY,
                "relay-1's database link half-open (the database's replies, commit confirmations among them, dropped)"
                        + " for 2-6 s at about 30 and 60% published, then healed and cut: ambiguous commits of its"
                        + " marks or cursor writes", Scenarios::relayDbHalfOpen);
        add("consumer-db-reset-and-half-open", KAFKA_ONLY, KAFKA_ONLY, KAFKA_ONLY,
                "consumer's database connections reset 3 times, then its link half-open for 2-4 s",
                Scenarios::consumerDbResetHalfOpen);
        add("broker-link-faults", Set.of(RABBITMQ, NATS), NONE, NONE,
                "relay-1's and consumer's broker links through the fault proxy: reset at about 25 and 45%, 20 ms"
                        + " latency to ~55%, blackholed for 3-5 s at ~65%, healed and cut",
                Scenarios::brokerLinkFaults);
    }

    private Scenarios() {
    }

    private static void add(String name, Set<String> transports, Set<String> orderedOn, Set<String> keyOrderedOn,
            String faults, Body body) {
        CATALOGUE.put(name, new Scenario(name, transports, orderedOn, keyOrderedOn, faults, body));
    }

    /** Every scenario, in catalogue order. */
    static List<Scenario> all() {
        return List.copyOf(CATALOGUE.values());
    }

    /** The scenarios of one transport, in catalogue order. */
    static List<Scenario> of(String transport) {
        return CATALOGUE.values().stream().filter(s -> s.runsOn(transport)).toList();
    }

    /** One scenario by name. */
    static Scenario named(String name) {
        Scenario s = CATALOGUE.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no chaos scenario " + name + "; known: " + CATALOGUE.keySet());
        }
        return s;
    }

    /**
     * Runs one scenario on a broker: fresh schema and destination, faults, drain, verdict, report.
     *
     * @throws AssertionError with the report (seed, faults, history of each anomalous event) if the run fails
     */
    static CheckReport run(String name, ChaosBroker broker, long seed, int events, int perSecond) {
        return run(name, broker, seed, events, perSecond, null);
    }

    /**
     * As {@link #run(String, ChaosBroker, long, int, int)}, with settings for the run (claim mode, report directory,
     * bounds), applied before the scenario starts anything.
     */
    static CheckReport run(String name, ChaosBroker broker, long seed, int events, int perSecond,
            java.util.function.Consumer<ChaosRun> settings) {
        Scenario scenario = named(name);
        if (!scenario.runsOn(broker.transport())) {
            throw new IllegalArgumentException(name + " does not run on " + broker.transport());
        }
        try (ChaosRun run = new ChaosRun(name, seed, events, scenario.ordered(broker.transport()),
                scenario.keyOrdered(broker.transport()), broker)) {
            if (settings != null) {
                settings.accept(run);
            }
            try {
                scenario.body().inject(run, perSecond);
            } catch (AssertionError | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("scenario " + name + " (seed " + seed + ") failed", e);
            }
            return run.finish();
        }
    }

    private static void relayKilled(ChaosRun run, int pace) {
        run.startAll(pace);
        List<String> relays = run.relayNames();
        double[] shares = {0.2, 0.4, 0.6};
        for (int i = 0; i < shares.length; i++) {
            double at = run.around(shares[i], 0.03);
            run.awaitPublished(at);
            // one relay: it each time; several: each in turn
            String relay = relays.get(i % relays.size());
            run.harness.kill(relay, String.format("at %.0f%% published", at * 100));
            run.harness.restart(relay);
        }
    }

    private static void writerKilled(ChaosRun run, int pace) {
        run.startAll(pace);
        for (double share : new double[] {0.3, 0.6}) {
            run.awaitCommitted(run.around(share, 0.05));
            run.harness.kill("writer", "mid-stream");
            run.harness.restart("writer");
        }
    }

    private static void relayPaused(ChaosRun run, int pace) {
        run.startConsumer("consumer-1", null);
        run.startRelays(2, null, null, "leaseMillis=4000", "publishTimeoutMillis=2000");
        run.startWriter(pace);
        run.awaitPublished(run.around(0.3, 0.05));
        run.pauseWhileHoldingClaims("relay-1", "for over twice its 4 s lease");
        ChaosRun.sleep(run.between(Duration.ofMillis(8_500), Duration.ofMillis(10_000)));
        run.harness.resume("relay-1");
    }

    private static void consumerKilledBeforeAck(ChaosRun run, int pace) throws Exception {
        Path marker = Files.createTempFile("chaos-crash-", ".marker");
        Files.delete(marker);
        try {
            long crashAfter = Math.round(run.expectedCommitted() * run.around(0.3, 0.1));
            run.startConsumer("consumer-1", null, "crashAfterEffects=" + crashAfter, "markerFile=" + marker);
            run.startRelays(null, null);
            run.startWriter(pace);
            run.await("the consumer at its crash point", run.progressBound(), () -> Files.exists(marker));
            run.harness.kill("consumer-1", "after outcome " + crashAfter + " committed, before its acknowledgement");
            run.harness.restart("consumer-1");
        } finally {
            // the restarted consumer read the marker at its start; it may go now
            run.deleteOnClose(marker);
        }
    }

    private static void consumerKilledAtRandom(ChaosRun run, int pace) {
        run.startAll(pace);
        for (double share : new double[] {0.2, 0.5, 0.8}) {
            run.awaitApplied("consumer-1", run.around(share, 0.05));
            run.harness.kill("consumer-1", "mid-stream");
            run.harness.restart("consumer-1");
        }
    }

    private static void brokerRestarted(ChaosRun run, int pace) {
        run.startAll(pace);
        run.awaitPublished(run.around(0.4, 0.05));
        Duration down = run.between(Duration.ofSeconds(2), Duration.ofSeconds(5));
        int fault = run.harness.recordFault(run.broker.describeRestart(down));
        try {
            run.broker.restart(down);
        } finally {
            run.harness.healed(fault);
        }
    }

    private static void brokerPaused(ChaosRun run, int pace) {
        run.startAll(pace);
        run.awaitPublished(run.around(0.4, 0.05));
        int fault = run.harness.recordFault(run.broker.transport() + " broker paused (SIGSTOP)");
        run.broker.pause();
        try {
            ChaosRun.sleep(run.between(Duration.ofSeconds(3), Duration.ofSeconds(6)));
        } finally {
            run.broker.resume();
            run.harness.healed(fault);
        }
    }

    private static void relayBackends(ChaosRun run, int pace) {
        run.startAll(pace);
        for (double share : new double[] {0.25, 0.5, 0.75}) {
            run.awaitPublished(run.around(share, 0.05));
            int n = run.terminateBackends(run.relayApp);
            run.harness.recordFault("pg_terminate_backend of the " + run.relaysWord() + " " + n + " backend(s)");
        }
    }

    private static void consumerBackends(ChaosRun run, int pace) {
        run.startAll(pace);
        for (double share : new double[] {0.25, 0.5, 0.75}) {
            run.awaitApplied("consumer-1", run.around(share, 0.05));
            int n = run.terminateBackends(run.consumerApp);
            run.harness.recordFault("pg_terminate_backend of the consumer's " + n + " backend(s)");
        }
    }

    private static void bothBackends(ChaosRun run, int pace) {
        run.startAll(pace);
        boolean relay = true;
        for (double share : new double[] {0.2, 0.4, 0.6, 0.8}) {
            double at = run.around(share, 0.04);
            if (relay) {
                run.awaitPublished(at);
                int n = run.terminateBackends(run.relayApp);
                run.harness.recordFault("pg_terminate_backend of the " + run.relaysWord() + " " + n + " backend(s)");
            } else {
                run.awaitApplied("consumer-1", at);
                int n = run.terminateBackends(run.consumerApp);
                run.harness.recordFault("pg_terminate_backend of the consumer's " + n + " backend(s)");
            }
            relay = !relay;
        }
    }

    private static void relayDbLatency(ChaosRun run, int pace) throws Exception {
        FaultProxy proxy = run.databaseProxy();
        run.startConsumer("consumer-1", null);
        run.startRelays(proxy, null);
        run.startWriter(pace);
        run.awaitPublished(run.around(0.2, 0.05));
        int latency = run.harness.recordFault("relay's database link: 25 ms latency each way");
        proxy.latency(Duration.ofMillis(25));
        run.awaitPublished(run.around(0.5, 0.05));
        proxy.heal();
        run.harness.healed(latency);
        int slicing = run.harness.recordFault("relay's database link: writes sliced into 16-byte pieces");
        proxy.slicing(16, Duration.ofMillis(1));
        run.awaitPublished(run.around(0.7, 0.05));
        proxy.heal();
        run.harness.healed(slicing);
    }

    private static void relayDbReset(ChaosRun run, int pace) throws Exception {
        FaultProxy proxy = run.databaseProxy();
        run.startConsumer("consumer-1", null);
        run.startRelays(proxy, null);
        run.startWriter(pace);
        for (double share : new double[] {0.2, 0.35, 0.5, 0.65, 0.8}) {
            run.awaitPublished(run.around(share, 0.03));
            int n = proxy.resetAll();
            run.harness.recordFault("relay's database link: " + n + " connection(s) reset (RST)");
        }
    }

    private static void relayDbBlackhole(ChaosRun run, int pace) throws Exception {
        FaultProxy proxy = run.databaseProxy();
        run.startConsumer("consumer-1", null);
        run.startRelays(proxy, null, "socketTimeoutSeconds=3");
        run.startWriter(pace);
        run.awaitPublished(run.around(0.3, 0.05));
        int fault = run.harness.recordFault("relay-1's database link blackholed");
        proxy.blackhole(true);
        ChaosRun.sleep(run.between(Duration.ofSeconds(4), Duration.ofSeconds(7)));
        proxy.heal();
        run.harness.healed(fault);
    }

    private static void relayDbHalfOpen(ChaosRun run, int pace) throws Exception {
        FaultProxy proxy = run.databaseProxy();
        run.startConsumer("consumer-1", null);
        run.startRelays(proxy, null, "socketTimeoutSeconds=3");
        run.startWriter(pace);
        Instant healed = Instant.EPOCH;
        for (double share : new double[] {0.3, 0.6}) {
            run.awaitPublished(run.around(share, 0.05));
            // in log mode each fault waits for relay-1 to work again, so that the second is a fault of its own
            run.awaitHoldingPartitions("relay-1", healed);
            // every statement relay-1 sends now reaches the database, commits included, and no answer comes back
            int fault = run.harness.recordFault("relay-1's database link half-open: the database's replies dropped");
            proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true);
            ChaosRun.sleep(run.between(Duration.ofSeconds(2), Duration.ofSeconds(6)));
            proxy.heal();
            // what was dropped is gone from the stream: connections that lived through it are cut, as TCP would end them
            int cut = proxy.cutAll();
            run.harness.healed(fault);
            run.harness.recordFault("relay-1's database link: " + cut + " connection(s) cut after the half-open link");
            healed = Instant.now();
        }
    }

    private static void consumerDbResetHalfOpen(ChaosRun run, int pace) throws Exception {
        FaultProxy proxy = run.databaseProxy();
        run.startConsumer("consumer-1", proxy, "socketTimeoutSeconds=3");
        run.startRelays(null, null);
        run.startWriter(pace);
        for (double share : new double[] {0.2, 0.4, 0.6}) {
            run.awaitApplied("consumer-1", run.around(share, 0.05));
            int n = proxy.resetAll();
            run.harness.recordFault("consumer's database link: " + n + " connection(s) reset (RST)");
        }
        run.awaitApplied("consumer-1", run.around(0.75, 0.03));
        // the database's answers (commit confirmations included) vanish: ambiguous commits
        int halfOpen = run.harness.recordFault("consumer's database link half-open: replies dropped");
        proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true);
        ChaosRun.sleep(run.between(Duration.ofSeconds(2), Duration.ofSeconds(4)));
        proxy.heal();
        proxy.cutAll();
        run.harness.healed(halfOpen);
    }

    private static void brokerLinkFaults(ChaosRun run, int pace) throws Exception {
        FaultProxy link = run.brokerProxy();
        run.startConsumerVia("consumer-1", null, link);
        run.startRelays(null, link);
        run.startWriter(pace);
        for (double share : new double[] {0.25, 0.45}) {
            run.awaitPublished(run.around(share, 0.03));
            int n = link.resetAll();
            run.harness.recordFault("broker link: " + n + " connection(s) reset (RST)");
        }
        int latency = run.harness.recordFault("broker link: 20 ms latency each way");
        link.latency(Duration.ofMillis(20));
        run.awaitPublished(run.around(0.55, 0.02));
        link.heal();
        run.harness.healed(latency);
        run.awaitPublished(run.around(0.65, 0.03));
        int blackhole = run.harness.recordFault("broker link blackholed");
        link.blackhole(true);
        ChaosRun.sleep(run.between(Duration.ofSeconds(3), Duration.ofSeconds(5)));
        link.heal();
        // what was sent into the hole is gone: connections that lived through it are cut, and reconnect
        int cut = link.cutAll();
        run.harness.healed(blackhole);
        run.harness.recordFault("broker link: " + cut + " connection(s) cut after the blackhole");
    }
}
