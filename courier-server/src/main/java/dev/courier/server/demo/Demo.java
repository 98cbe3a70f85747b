package dev.courier.server.demo;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.deadletter.AlertListener;
import dev.courier.embedded.LocalDatabase;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.server.Components;
import dev.courier.server.Databases;
import dev.courier.server.Observability;
import dev.courier.server.http.AdminApi;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.DemoSettings;
import dev.courier.server.config.Masking;
import dev.courier.server.config.Setting;
import dev.courier.server.logging.LogRouting;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worked example: the whole guaranteed path on real engines with faults injected, and a report
 * that checks the invariants (see {@link DemoReport}).
 *
 * <pre>
 *  checkout (orders row + OrderConfirmed via Outbox.append, one tx; some rolled back)
 *     -> relay (in-JVM wake-up) -> DroppedConfirmationTransport -> Transport (Kafka, RabbitMQ
 *        or NATS JetStream)
 *     -> inventory consumer (Transport.subscribe, own ledger rows) -> inventory_reservations
 *     -> email consumer     (Transport.subscribe, own ledger rows) -> emails_sent
 * </pre>
 *
 * <p>Engines: the configured database when {@code courier.db.url} is set, otherwise the local
 * PostgreSQL at 127.0.0.1:5432 (or an embedded one); the broker chosen by {@link BrokerChoice} (see
 * {@link DemoBroker}). Every run works in a fresh schema, dropped at the end unless {@link
 * DemoSettings#keep()}; on a shared broker the destination gets the run id appended so that
 * messages of earlier runs are never counted.
 *
 * <p>Human-readable progress and the report go to {@code out}, or to {@code err} when JSON logs
 * take standard output; the JSON log goes to {@code <work dir>/courier-demo.log} otherwise.
 *
 * <p>While it runs, the demo serves the web dashboard ({@code /}), {@code /metrics}, {@code
 * /health/live} and {@code /health/ready} like {@code courier relay} does, and says where; on the
 * default port when it is free, else on any free port.
 */
final class Demo {
  private static final Logger log = LoggerFactory.getLogger(Demo.class);
  private static final DateTimeFormatter RUN_ID =
      DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss", Locale.ROOT);

  private final CourierConfig config;
  private final BrokerChoice brokerChoice;
  private final DemoSettings settings;
  private final PrintWriter console;
  private final String runId;
  private final DemoStats stats = new DemoStats();
  private final Observability observability;
  private final MeterRegistry registry;
  private final Resources resources = new Resources();
  private volatile LoadGenerator load;
  private volatile String phase = "start";
  private volatile boolean aborted;

  Demo(CourierConfig config, PrintWriter out, PrintWriter err) {
    this(config, BrokerChoice.kafka(), out, err);
  }

  Demo(CourierConfig config, BrokerChoice brokerChoice, PrintWriter out, PrintWriter err) {
    this.config = config;
    this.brokerChoice = brokerChoice;
    this.settings = config.demo();
    this.console = settings.jsonLogs() ? err : out;
    this.observability = new Observability(config);
    this.registry = observability.registry();
    this.runId =
        LocalDateTime.now().format(RUN_ID)
            + "_"
            + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
  }

  /**
   * Runs the demo and prints its report.
   *
   * @return the report; {@link DemoReport#invariantsHold()} decides the exit code
   * @throws CourierException if an engine cannot be started or reached
   */
  DemoReport run() throws Exception {
    Path logFile = prepareLogFile();
    LogRouting routing = settings.jsonLogs() ? null : LogRouting.toFile(logFile);
    // closed last if nothing else registered it: see startPipeline
    resources.add("metrics registry", observability);
    Thread hook = new Thread(this::abort, "courier-demo-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return runWithLogs(logFile);
    } finally {
      resources.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or has run; nothing to undo
      }
      if (routing != null) {
        routing.close();
      }
      say(
          settings.jsonLogs()
              ? "JSON logs went to standard output."
              : "Logs (JSON lines): " + logFile.toAbsolutePath());
    }
  }

  private DemoReport runWithLogs(Path logFile) throws Exception {
    announce(logFile);
    Pipeline p = startPipeline();
    ScheduledExecutorService progress =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("courier-demo-progress").daemon(true).factory());
    resources.add("progress", progress::shutdownNow);
    long interval = settings.progressInterval().toMillis();
    progress.scheduleAtFixedRate(() -> progress(p), interval, interval, TimeUnit.MILLISECONDS);

    if (!settings.warmUp().isZero()) {
      warmUp(p);
    }
    Duration loadTime = placeOrders(p, "load", settings.duration());
    phase = "drain";
    say(
        String.format(
            Locale.ROOT,
            "Orders placed: %,d committed, %,d rolled back%s in all. Waiting for every event to be"
                + " applied (at most %s)...",
            stats.ordersCommitted.sum(),
            stats.ordersRolledBack.sum(),
            stats.checkoutFailures.sum() == 0
                ? ""
                : String.format(Locale.ROOT, ", %,d failed", stats.checkoutFailures.sum()),
            DemoReport.human(settings.drainTimeout())));
    boolean drained = drain(p);
    progress.shutdownNow();
    progress(p);
    say(
        drained
            ? "Drained: the outbox is empty and both consumers have applied and acknowledged every"
                + " event."
            : "Drain timed out.");

    // Stop the moving parts before counting, so that the counts are final.
    resources.closeThrough(p.transport());
    DemoReport report = report(p, loadTime, drained);
    report.print(console);
    if (settings.keep()) {
      say(
          "Schema "
              + p.schema()
              + " kept in "
              + p.db().description()
              + "; for example: SELECT * FROM "
              + p.schema()
              + ".orders LIMIT 5;");
    }
    return report;
  }

  private void announce(Path logFile) {
    say(
        String.format(
            Locale.ROOT,
            "Courier demo, run %s on %s: %s of checkouts at %.1f/s (%,.0f/min); faults: %s rolled"
                + " back, %s of broker confirmations dropped, consumer crash chance %s per applied"
                + " event",
            runId,
            brokerChoice.kind().option(),
            DemoReport.human(settings.duration()),
            settings.ratePerSecond(),
            settings.ratePerSecond() * 60,
            percent(settings.rollbackRate()),
            percent(settings.dropConfirmRate()),
            oneIn(settings.consumerCrashRate())));
    if (!settings.jsonLogs()) {
      say("Logs (JSON lines): " + logFile.toAbsolutePath());
    }
  }

  /** Everything the run sets up, in the order the event flows through it. */
  private record Pipeline(
      Database db,
      String schema,
      HikariDataSource dataSource,
      DemoBroker broker,
      Checkout checkout,
      DroppedConfirmationTransport transport,
      List<ConsumerSupervisor> consumers,
      DemoQueries queries) {}

  /** Engines, schema, topic, relay and consumers; every part is registered for closing. */
  private Pipeline startPipeline() {
    // The broker first: a missing one fails the run before anything else is set up. Closed last,
    // after the transport and the consumers, when it removes the run's topology.
    DemoBroker broker =
        resources.add(
            "broker",
            DemoBroker.open(brokerChoice, config, runId, settings.keep(), registry, this::say));
    Database db = database();
    String schema = "courier_demo_" + runId;
    int poolSize = Math.max(config.database().poolSize(), settings.writers() + 8);
    HikariDataSource ds = resources.add("database pool", pool(db, schema, poolSize));
    createSchema(ds, schema);
    if (!settings.keep()) {
      // closed in reverse order: this runs after everything using the pool, before the pool
      resources.add("schema " + schema, () -> dropSchema(ds, schema));
    }
    // closed after the relay and the consumers, and before the schema is dropped and the pool
    // closed: the endpoints and the dead-letter monitor read the schema until then
    resources.add("metrics and health endpoints", observability);
    CourierTables tables = config.tables();
    Schema.migrate(ds, tables);
    if (config.relay().claimMode() == dev.courier.relay.Relay.ClaimMode.LOG) {
      // the demo's own schema: turned to log mode before anything is written
      Schema.enableLogMode(ds, tables);
    }
    DemoTables.create(ds);
    say(
        "Database: "
            + db.description()
            + ", schema "
            + schema
            + (settings.keep() ? " (kept after the run)" : ""));

    List<String> consumerNames = List.of(DemoConsumers.INVENTORY, DemoConsumers.EMAIL);
    say(broker.prepare(consumerNames));

    DroppedConfirmationTransport transport =
        resources.add(
            broker.name() + " transport",
            new DroppedConfirmationTransport(
                broker.transport(), settings.dropConfirmRate(), stats));
    Relay relay =
        resources.add("relay", Components.relay(ds, transport, tables, config.relay(), registry));
    Outbox outbox = Outbox.builder().tables(tables).onAppend(relay::wakeup).build();
    List<ConsumerSupervisor> consumers =
        List.of(
            consumer(
                DemoConsumers.INVENTORY, DemoConsumers.inventory(), ds, tables, broker, transport),
            consumer(DemoConsumers.EMAIL, DemoConsumers.email(), ds, tables, broker, transport));
    observability.watchStores(
        ds, tables, List.of(DemoConsumers.INVENTORY, DemoConsumers.EMAIL), AlertListener.logging());
    observability.watchRelay(relay);
    boolean adminApi = serveAdminApi(ds, tables);
    announceEndpoints(observability.serve(true), adminApi);
    relay.start();
    consumers.forEach(ConsumerSupervisor::start);
    return new Pipeline(
        db,
        schema,
        ds,
        broker,
        new Checkout(ds, outbox, broker.destination(), settings.rollbackRate(), stats),
        transport,
        consumers,
        new DemoQueries(ds, tables));
  }

  /**
   * The admin API beside the dashboard, so that its outbox and dead-letter panels work; on a
   * loopback address its reads are open (the demo's own throwaway data), and changes through it
   * need courier.admin.token as everywhere. Left off, with a line saying why, where it
   * may not be served (a non-loopback address without a token).
   */
  private boolean serveAdminApi(HikariDataSource ds, CourierTables tables) {
    try {
      observability.serveAdminApi(
          ds, tables, config.admin().openReads() || AdminApi.isLoopback(config.http().host()));
      return true;
    } catch (ConfigurationException e) {
      say("Admin API off: " + e.getMessage());
      return false;
    }
  }

  private void announceEndpoints(Optional<URI> http, boolean adminApi) {
    if (http.isEmpty()) {
      say("Metrics and health endpoints are off (courier.http.enabled=false).");
      return;
    }
    URI base = http.get();
    say(
        "Metrics (Prometheus, while the demo runs): "
            + base.resolve("/metrics")
            + "  readiness: "
            + base.resolve("/health/ready"));
    say(
        "Dashboard (open in a browser while the demo runs): "
            + base.resolve("/")
            + (!adminApi
                ? ""
                : config.admin().token() == null
                    ? "  (dead letters read-only; set " + Setting.ADMIN_TOKEN.envVariable() + " to replay)"
                    : "  (admin API at " + base.resolve("/api/") + ")"));
    say(
        "For Grafana: import ops/grafana/courier-dashboard.json; alert rules:"
            + " ops/prometheus/courier-alerts.yml (see docs/OPERATIONS.md).");
  }

  /**
   * A cold JVM runs its first seconds interpreted: consumers fall behind and catch up, and those
   * seconds would dominate the latency tail. Warm-up orders count in every check, only their
   * latencies are forgotten.
   */
  private void warmUp(Pipeline p) throws InterruptedException {
    say(
        String.format(
            Locale.ROOT,
            "Warming up for %s while the JVM compiles the hot paths (these orders count in every"
                + " check, not in the latency figures)...",
            DemoReport.human(settings.warmUp())));
    placeOrders(p, "warm-up", settings.warmUp());
    if (!drain(p)) {
      say("Warm-up orders were not all applied within the drain timeout; measuring anyway.");
    }
    stats.resetLatencies();
  }

  /** Places orders at the configured rate for {@code duration}; returns how long it took. */
  private Duration placeOrders(Pipeline p, String phaseName, Duration duration)
      throws InterruptedException {
    load = new LoadGenerator(settings.ratePerSecond(), duration, settings.writers());
    phase = phaseName;
    if (phaseName.equals("load")) {
      say(
          String.format(
              Locale.ROOT,
              "Placing %,d orders in %s...",
              load.plannedItems(),
              DemoReport.human(duration)));
    }
    long started = System.nanoTime();
    load.run(p.checkout()::placeOrder);
    if (aborted) {
      throw new CourierException("the demo was interrupted");
    }
    return Duration.ofNanos(System.nanoTime() - started);
  }

  private DemoReport report(Pipeline p, Duration loadTime, boolean drained) {
    DemoQueries q = p.queries();
    long rolledBackHandled =
        p.consumers().stream().mapToLong(ConsumerSupervisor::rolledBackHandled).sum();
    DemoReport.Wire wire = p.broker().census(stats.rolledBackEventIds, rolledBackHandled);
    return new DemoReport(
        runId,
        loadTime,
        settings.warmUp(),
        settings.ratePerSecond(),
        q.ordersCommitted(),
        stats.ordersRolledBack.sum(),
        stats.checkoutFailures.sum(),
        sum(CourierMetrics.RELAY_PUBLISHED, Map.of()),
        stats.confirmationsDropped.sum(),
        q.outboxPending(),
        q.outboxDead(),
        q.outboxPhantoms(),
        wire,
        List.of(
            result(p.consumers().get(0), DemoTables.RESERVATIONS, q),
            result(p.consumers().get(1), DemoTables.EMAILS, q)),
        stats.latency(),
        stats.relayLag(),
        drained);
  }

  private DemoReport.ConsumerResult result(
      ConsumerSupervisor c, String effectTable, DemoQueries q) {
    return new DemoReport.ConsumerResult(
        c.name(),
        c.received(),
        q.ledger(c.name()),
        q.effects(effectTable),
        sum(CourierMetrics.CONSUMER_DEDUPE_HITS, Map.of("consumer", c.name())),
        c.crashes(),
        q.maxEffectsPerOrder(effectTable),
        q.lost(effectTable),
        q.phantoms(effectTable),
        q.deadLetters(c.name()));
  }

  /**
   * Waits until the outbox is empty, both consumers have applied every event and the broker holds
   * nothing more for them (see {@link DrainProbe}).
   */
  private boolean drain(Pipeline p) throws InterruptedException {
    long deadline = System.nanoTime() + settings.drainTimeout().toNanos();
    DrainProbe probe = new DrainProbe(p.broker(), p.consumers(), p.queries());
    while (System.nanoTime() < deadline && !aborted) {
      try {
        if (probe.drained()) {
          return true;
        }
      } catch (CourierException e) {
        log.warn("drain check failed, trying again: {}", e.getMessage());
      }
      Thread.sleep(250);
    }
    return false;
  }

  private void progress(Pipeline p) {
    try {
      StringBuilder sb = new StringBuilder();
      LoadGenerator l = load;
      sb.append(
          String.format(
              Locale.ROOT,
              "[%-7s %5.1fs] orders %,d committed, %,d rolled back | published %,d, dropped"
                  + " confirms %,d",
              phase,
              l == null ? 0.0 : l.elapsed().toMillis() / 1000.0,
              stats.ordersCommitted.sum(),
              stats.ordersRolledBack.sum(),
              sum(CourierMetrics.RELAY_PUBLISHED, Map.of()),
              stats.confirmationsDropped.sum()));
      for (ConsumerSupervisor c : p.consumers()) {
        sb.append(
            String.format(
                Locale.ROOT,
                " | %s %,d applied, %,d dedupe, %d crash%s",
                c.name(),
                sum(CourierMetrics.CONSUMER_PROCESSED, Map.of("consumer", c.name())),
                sum(CourierMetrics.CONSUMER_DEDUPE_HITS, Map.of("consumer", c.name())),
                c.crashes(),
                c.crashes() == 1 ? "" : "es"));
      }
      String backlog;
      try {
        backlog = String.format(Locale.ROOT, "%,d", p.queries().outboxPending());
      } catch (RuntimeException e) {
        backlog = "?";
      }
      sb.append(" | outbox backlog ").append(backlog);
      say(sb.toString());
    } catch (RuntimeException e) {
      log.warn("progress report failed: {}", e.toString());
    }
  }

  private long sum(String meter, Map<String, String> tags) {
    var search = registry.find(meter);
    for (var t : tags.entrySet()) {
      search = search.tag(t.getKey(), t.getValue());
    }
    return Math.round(search.counters().stream().mapToDouble(Counter::count).sum());
  }

  private ConsumerSupervisor consumer(
      String name,
      dev.courier.inbox.EventHandler handler,
      HikariDataSource ds,
      CourierTables tables,
      DemoBroker broker,
      DroppedConfirmationTransport transport) {
    AppliedEvents applied = new AppliedEvents(stats.rolledBackEventIds);
    IdempotentProcessor processor =
        IdempotentProcessor.builder(name, ds, applied.wrap(handler))
            .tables(tables)
            .meterRegistry(registry)
            .build();
    return resources.add(
        "consumer " + name,
        new ConsumerSupervisor(
            name,
            transport,
            instance -> broker.subscription(name, instance),
            processor,
            applied,
            settings.consumerCrashRate(),
            stats));
  }

  /**
   * Ctrl-C: stop placing orders and close everything; the main thread's own close is then a no-op.
   */
  private void abort() {
    aborted = true;
    say(
        "Interrupted: stopping the demo"
            + (settings.keep() ? "" : " and dropping its schema")
            + " (waits for the relay's publish in flight, at most "
            + DemoReport.human(config.relay().publishTimeout())
            + ")...");
    LoadGenerator l = load;
    if (l != null) {
      l.stop();
    }
    resources.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Engines

  /** How to reach the database, whatever provides it. */
  private record Database(String url, String user, String password, String description) {}

  private Database database() {
    Optional<String> url = config.database().configuredUrl();
    if (url.isPresent()) {
      return new Database(
          url.get(),
          config.database().user(),
          config.database().password(),
          "PostgreSQL at " + Masking.url(url.get()));
    }
    say(
        "Looking for PostgreSQL: the local server at 127.0.0.1:5432, else an embedded one (first"
            + " start unpacks it)...");
    LocalDatabase db;
    try {
      db = LocalDatabase.shared();
    } catch (LocalDatabase.UnavailableException e) {
      throw new CourierException(
          "no PostgreSQL to run the demo on: "
              + e.getMessage()
              + "; or set courier.db.url to use another",
          e);
    } catch (RuntimeException e) {
      throw new CourierException(
          "no PostgreSQL to run the demo on: neither a local server at 127.0.0.1:5432 (database"
              + " test, user postgres) nor an embedded one could be used ("
              + e.getMessage()
              + "); set courier.db.url to use another",
          e);
    }
    return new Database(db.jdbcUrl(), db.user(), db.password(), db.description());
  }

  private HikariDataSource pool(Database db, String schema, int poolSize) {
    return Databases.pool(
        "courier-demo",
        db.url(),
        db.user(),
        db.password(),
        schema,
        poolSize,
        config.database().connectTimeout());
  }

  private static void createSchema(HikariDataSource ds, String schema) {
    execute(ds, "CREATE SCHEMA " + schema);
  }

  private static void dropSchema(HikariDataSource ds, String schema) {
    try {
      execute(ds, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      log.info("dropped schema {}", schema);
    } catch (RuntimeException e) {
      log.warn("could not drop schema {}: {}", schema, e.toString());
    }
  }

  private static void execute(HikariDataSource ds, String sql) {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw DatabaseFailures.of("'" + sql + "' failed", e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Console

  private Path prepareLogFile() {
    Path dir = settings.workDir();
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CourierException(
          "cannot create the demo's work directory " + dir.toAbsolutePath() + ": " + e.getMessage(),
          e);
    }
    return dir.resolve("courier-demo.log");
  }

  private void say(String line) {
    console.println(line);
    console.flush();
  }

  private static String percent(double f) {
    return String.format(Locale.ROOT, "%.3g%%", f * 100).replaceAll("\\.?0+%$", "%");
  }

  private static String oneIn(double f) {
    return f <= 0 ? "0" : String.format(Locale.ROOT, "1 in %,.0f", 1 / f);
  }
}
