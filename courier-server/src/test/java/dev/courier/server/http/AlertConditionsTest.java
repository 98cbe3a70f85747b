package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.AlertListener;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.deadletter.DeadLetterGrowth;
import dev.courier.deadletter.DeadLetterMonitor;
import dev.courier.embedded.KafkaEndpoint;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.relay.HorizonMonitor;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.server.http.AlertRules.Comparison;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.TestClock;
import dev.courier.testkit.TestDatabase;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Drives a running system (real PostgreSQL, an embedded Kafka broker, a relay, consumers) into the
 * condition of each shipped alert rule, and checks that the metric, as scraped from {@code
 * /metrics}, crosses the threshold written in {@code ops/prometheus/courier-alerts.yml}. The
 * thresholds are read from the file, so the rules and these tests cannot drift apart.
 *
 * <p>What Prometheus computes over a window ({@code offset 10m}, {@code rate(...[5m])}) is computed
 * here from two scrapes, before and after the system was driven into the condition; a {@code for:}
 * duration is not waited for (the rules' promtool unit tests cover those). Where a rule needs time
 * to pass (an event older than five minutes, a relay silent for two), the component's clock is
 * moved instead of sleeping: for the relay's heartbeat that clock stands for Prometheus' {@code
 * time()}.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class AlertConditionsTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Pattern UUID_TEXT =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static AlertRules rules;
  private static String bootstrap;

  private PGSimpleDataSource db;
  private PrometheusMeterRegistry registry;
  private CourierHttpServer http;
  private final List<AutoCloseable> closing = new ArrayList<>();
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final String topic = "alerts-" + run;

  @BeforeAll
  static void engines() {
    rules = AlertRules.shipped();
    bootstrap = KafkaEndpoint.fromEnvironmentOrEmbedded().bootstrapServers();
  }

  @BeforeEach
  void setUp() throws Exception {
    // created up front: a producer racing the broker's automatic creation of a topic can stall on
    // OUT_OF_ORDER_SEQUENCE_NUMBER until its delivery timeout
    KafkaEndpoint.fromEnvironmentOrEmbedded().createTopic(topic, 3);
    db = TestDatabase.shared().freshSchema("alerts");
    Schema.migrate(db, CourierTables.DEFAULT);
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  }

  @AfterEach
  void tearDown() throws Exception {
    Collections.reverse(closing);
    for (AutoCloseable c : closing) {
      c.close();
    }
    if (http != null) {
      http.close();
    }
    registry.close();
    TestDatabase.shared().dropSchema(db);
  }

  @Test
  void deadLettersGrowing_firesWhenPoisonEventsAreDeadLettered_andReadinessNamesTheConsumer()
      throws Exception {
    Comparison growth = rules.alert("CourierDeadLettersGrowing").threshold();
    String consumer = "billing-" + run;
    DeadLetterAdmin deadLetters =
        DeadLetterAdmin.builder(db).consumers(List.of(consumer)).gaugeCacheTtl(Duration.ZERO).build();
    deadLetters.bindTo(registry);
    Recorder alerts = new Recorder();
    DeadLetterMonitor monitor =
        closeLater(
            DeadLetterMonitor.builder(deadLetters)
                .threshold(2)
                .window(Duration.ofMinutes(1))
                .checkInterval(Duration.ofMillis(200))
                .listener(alerts)
                .build());
    monitor.start();
    serve(HealthChecks.deadLetters(monitor));
    Scrape before = scrape();
    int poison = (int) growth.bound() + 3;

    append("BillOrder", poison);
    startRelay(kafka(), Clock.systemUTC());
    subscribe(
        processor(consumer, (e, c) -> {
          throw new PoisonEventException("cannot bill an order with a negative total");
        }));
    await().atMost(WAIT).until(() -> deadLetters.counts().of(consumer) == poison);

    Scrape after = scrape();
    String backlog = "courier_consumer_dead_letters_backlog_events";
    double grown = after.max(backlog, Map.of("consumer", consumer)) - before.max(backlog, Map.of("consumer", consumer));
    assertThat(grown).as("growth of %s, rule threshold %s", backlog, growth).isEqualTo(poison);
    assertThat(growth.holdsFor(grown)).as("%s %s", grown, growth).isTrue();
    assertThat(
            after.sum(
                "courier_consumer_dead_letters_events_total",
                Map.of("consumer", consumer, "reason", "POISON")))
        .isEqualTo(poison);

    await().atMost(WAIT).until(() -> !alerts.growing.isEmpty());
    assertThat(alerts.growing.getFirst().name()).isEqualTo(consumer);
    JsonNode ready = readyExpecting(503);
    assertThat(ready.at("/checks/dead-letters/status").asText()).isEqualTo("DOWN");
    assertThat(ready.at("/checks/dead-letters/reason").asText())
        .contains("dead letters growing faster than 2 per 1m")
        .contains("consumer " + consumer + ": " + poison + " dead letters parked");
  }

  @Test
  void outboxOldestEventTooOld_firesWhileNoRelayPublishes_andReadinessAnswers503WithTheReason()
      throws Exception {
    Comparison maxAge = rules.alert("CourierOutboxOldestEventTooOld").threshold();
    TestClock clock = TestClock.now();
    OutboxAdmin outbox = new OutboxAdmin(db, CourierTables.DEFAULT, clock, Duration.ZERO);
    outbox.bindTo(registry);
    // a short limit, as a test configuration of courier.health.outbox-max-age would set it
    serve(HealthChecks.outboxAge(outbox, Duration.ofSeconds(30)));
    assertThat(readyExpecting(200).at("/checks/outbox/reason").asText()).startsWith("nothing pending");

    append("OrderConfirmed", 3);
    clock.advance(Duration.ofSeconds((long) maxAge.bound() + 5)); // time passes; no relay runs

    double age = scrape().max("courier_outbox_oldest_age_seconds", Map.of());
    assertThat(maxAge.holdsFor(age)).as("oldest age %s s, rule %s", age, maxAge).isTrue();
    JsonNode ready = readyExpecting(503);
    assertThat(ready.at("/status").asText()).isEqualTo("DOWN");
    assertThat(ready.at("/checks/outbox/reason").asText())
        .contains("older than courier.health.outbox-max-age (30s)")
        .contains("3 pending");

    // a relay catches up: the condition clears and readiness recovers
    startRelay(kafka(), Clock.systemUTC());
    await().atMost(WAIT).until(() -> outbox.status().pending() == 0);
    assertThat(maxAge.holdsFor(scrape().max("courier_outbox_oldest_age_seconds", Map.of()))).isFalse();
    readyExpecting(200);
  }

  @Test
  void publishFailureRateHigh_firesWhenTheBrokerIsUnreachable_andOutboxDeadRowsGrowing_whenTheRowsAreParked()
      throws Exception {
    Comparison failureRatio = rules.alert("CourierPublishFailureRateHigh").threshold();
    Comparison deadGrowth = rules.alert("CourierOutboxDeadRowsGrowing").threshold();
    OutboxAdmin outbox = new OutboxAdmin(db, CourierTables.DEFAULT, Clock.systemUTC(), Duration.ZERO);
    outbox.bindTo(registry);
    serve();
    Scrape before = scrape();
    int events = 4;
    int attempts = 3;

    append("OrderConfirmed", events);
    KafkaTransport unreachable =
        closeLater(
            KafkaTransport.builder()
                .bootstrapServers("127.0.0.1:" + freePort())
                .clientId("alerts-unreachable-" + run)
                .property("max.block.ms", "300")
                .closeTimeout(Duration.ofSeconds(1))
                .build());
    Relay relay =
        closeLater(
            Relay.builder(db, unreachable)
                .relayId("alerts-unreachable-" + run)
                .retryPolicy(
                    RetryPolicy.builder()
                        .maxAttempts(attempts)
                        .initialDelay(Duration.ofMillis(10))
                        .maxDelay(Duration.ofMillis(20))
                        .build())
                .publishTimeout(Duration.ofSeconds(1))
                .lease(Duration.ofSeconds(5))
                .maxPollInterval(Duration.ofMillis(50))
                .meterRegistry(registry)
                .build());
    relay.start();
    await().atMost(WAIT).until(() -> outbox.status().dead() == events);

    Scrape after = scrape();
    Map<String, String> dest = Map.of("destination", topic, "transport", "kafka");
    double failures =
        after.sum("courier_relay_failures_events_total", dest)
            - before.sum("courier_relay_failures_events_total", dest);
    double published =
        after.sum("courier_relay_published_events_total", dest)
            - before.sum("courier_relay_published_events_total", dest);
    assertThat(failures).isEqualTo(events * attempts);
    assertThat(after.has("courier_relay_published_events_total"))
        .as("nothing was ever confirmed: the rule must work without a published series")
        .isFalse();
    double ratio = failures / (failures + published);
    assertThat(failureRatio.holdsFor(ratio)).as("failure ratio %s, rule %s", ratio, failureRatio).isTrue();
    assertThat(after.sum("courier_relay_dead_events_total", dest)).isEqualTo(events);

    double deadRows =
        after.max("courier_outbox_dead_events", Map.of()) - before.max("courier_outbox_dead_events", Map.of());
    assertThat(deadGrowth.holdsFor(deadRows)).as("dead rows grew by %s, rule %s", deadRows, deadGrowth).isTrue();
  }

  @Test
  void consumerRetryStorm_firesWhenTheHandlerKeepsFailing() throws Exception {
    List<Comparison> storm = rules.alert("CourierConsumerRetryStorm").comparisons();
    assertThat(storm).as("retry share, then retries per second").hasSize(2);
    Comparison share = storm.get(0);
    Comparison perSecond = storm.get(1);
    // Prometheus computes the rate over the rule's 5-minute window: even if the whole storm fell in
    // one window, it has to be big enough to cross the per-second threshold there
    long window = 300;
    int retriesPerEvent = 10;
    int events = (int) Math.ceil(perSecond.bound() * window / retriesPerEvent) + 1;
    String consumer = "ledger-" + run;
    serve();
    Scrape before = scrape();

    append("PostToLedger", events);
    startRelay(kafka(), Clock.systemUTC());
    subscribe(
        IdempotentProcessor.builder(
                consumer,
                db,
                (e, c) -> {
                  throw new IllegalStateException("ledger service unavailable");
                })
            .retryPolicy(
                RetryPolicy.builder()
                    .maxAttempts(retriesPerEvent + 1)
                    .initialDelay(Duration.ofMillis(1))
                    .maxDelay(Duration.ofMillis(5))
                    .build())
            .meterRegistry(registry)
            .build());
    await()
        .atMost(WAIT)
        .until(
            () ->
                registry.get("courier.consumer.retries").tag("consumer", consumer).counter().count()
                    >= (double) events * retriesPerEvent);

    Scrape after = scrape();
    Map<String, String> c = Map.of("consumer", consumer);
    double retries =
        after.sum("courier_consumer_retries_attempts_total", c)
            - before.sum("courier_consumer_retries_attempts_total", c);
    double processed =
        after.sum("courier_consumer_processed_events_total", c)
            - before.sum("courier_consumer_processed_events_total", c);
    double retryShare = retries / (retries + processed);
    assertThat(share.holdsFor(retryShare)).as("retry share %s, rule %s", retryShare, share).isTrue();
    double rate = retries / window;
    assertThat(perSecond.holdsFor(rate)).as("%s retries per second over %ss, rule %s", rate, window, perSecond).isTrue();
  }

  @Test
  void relayDown_firesOnceTheLastRelayStops_andTheStoppedRelayDoesNotLookStalled() throws Exception {
    Comparison running = rules.alert("CourierRelayDown").threshold();
    Comparison stalled = rules.alert("CourierRelayStalled").threshold();
    serve();
    Relay relay = startRelay(kafka(), Clock.systemUTC());
    await().atMost(WAIT).until(() -> relay.lastCompletedPass().isPresent());

    double up = scrape().sum("courier_relay_running_relays", Map.of());
    assertThat(up).isEqualTo(1);
    assertThat(running.holdsFor(up)).isFalse();

    relay.close();
    Scrape after = scrape();
    double down = after.sum("courier_relay_running_relays", Map.of());
    assertThat(running.holdsFor(down)).as("running relays %s, rule %s", down, running).isTrue();
    double lastPass = after.max("courier_relay_last_pass_timestamp_seconds", Map.of("relay", relay.id()));
    assertThat(lastPass).as("NaN, so that time() - it is never above %s", stalled).isNaN();
  }

  @Test
  void relayStalled_firesWhenTheRelayCompletesNoPass_andReadinessSaysSo() throws Exception {
    Comparison silence = rules.alert("CourierRelayStalled").threshold();
    TestClock clock = TestClock.now();
    Relay relay = startRelay(kafka(), clock);
    await().atMost(WAIT).until(() -> relay.lastCompletedPass().isPresent());
    serve(HealthChecks.relay(relay, clock, Duration.ofSeconds(30)));
    readyExpecting(200);

    // the relay's database goes away: every pass fails from now on
    execute("ALTER TABLE courier_outbox RENAME TO courier_outbox_away");
    Thread.sleep(300); // passes in flight (at most 50 ms apart) finish and fail
    Instant now = clock.advance(Duration.ofSeconds((long) silence.bound() + 1));
    Thread.sleep(200);

    double lastPass = scrape().max("courier_relay_last_pass_timestamp_seconds", Map.of("relay", relay.id()));
    double sinceLastPass = now.getEpochSecond() + now.getNano() / 1e9 - lastPass;
    assertThat(silence.holdsFor(sinceLastPass))
        .as("time() - last pass = %s s, rule %s", sinceLastPass, silence)
        .isTrue();
    JsonNode ready = readyExpecting(503);
    assertThat(ready.at("/checks/relay/reason").asText()).contains("has not completed a pass for 2m 1s");

    execute("ALTER TABLE courier_outbox_away RENAME TO courier_outbox");
    await().atMost(WAIT).until(() -> relay.lastCompletedPass().orElseThrow().equals(clock.instant()));
    readyExpecting(200);
  }

  @Test
  void horizonHeldBack_firesWhileATransactionStaysOpen_andReadinessNamesItsBackend_untilItEnds()
      throws Exception {
    Comparison maxLag = rules.alert("CourierHorizonHeldBack").threshold();
    String application = "alerts-horizon-" + run;
    try (Connection holder = db.getConnection()) {
      holder.setClientInfo("ApplicationName", application);
      holder.setAutoCommit(false);
      long xid;
      int pid;
      Instant started;
      try (Statement st = holder.createStatement();
          ResultSet rs =
              st.executeQuery("SELECT pg_current_xact_id()::text::bigint, pg_backend_pid(), now()")) {
        rs.next();
        xid = rs.getLong(1);
        pid = rs.getInt(2);
        started = rs.getObject(3, OffsetDateTime.class).toInstant();
      }
      TestClock clock = TestClock.at(started);
      HorizonMonitor monitor = closeLater(HorizonMonitor.builder(db).clock(clock).build());
      monitor.bindTo(registry);
      // a short limit, as a test configuration of courier.health.horizon-max-lag would set it
      serve(HealthChecks.horizon(monitor, Duration.ofSeconds(60)));
      // the database is shared: older transactions of other sessions end by themselves
      await().atMost(WAIT).until(() -> monitor.check().lag().horizon() == xid);
      assertThat(readyExpecting(200).at("/checks/horizon/reason").asText())
          .startsWith("backend pid " + pid + " (application '" + application + "'");

      clock.advance(Duration.ofSeconds((long) maxLag.bound() + 5)); // the transaction stays open
      monitor.check();

      double lag = scrape().max("courier_outbox_horizon_lag_seconds", Map.of());
      assertThat(maxLag.holdsFor(lag)).as("horizon lag %s s, rule %s", lag, maxLag).isTrue();
      assertThat(scrape().max("courier_outbox_horizon_distance_transactions", Map.of()))
          .isGreaterThanOrEqualTo(0);
      JsonNode ready = readyExpecting(503);
      assertThat(ready.at("/checks/horizon/reason").asText())
          .startsWith("backend pid " + pid + " (application '" + application + "'")
          .contains("idle in transaction")
          .contains("has held the transaction horizon back for 5m 5s")
          .contains("longer than courier.health.horizon-max-lag (1m)");

      holder.commit();
      // back to the wall clock: other sessions' short transactions must not look five minutes old
      clock.set(Instant.now());
      await()
          .atMost(WAIT)
          .until(() -> monitor.check().lag().age().compareTo(Duration.ofSeconds(60)) <= 0);
      assertThat(maxLag.holdsFor(scrape().max("courier_outbox_horizon_lag_seconds", Map.of())))
          .isFalse();
      assertThat(readyExpecting(200).at("/checks/horizon/reason").asText())
          .doesNotContain("backend pid " + pid + " ");
    }
  }

  @Test
  void everyMetricTheRulesAndTheDashboardRead_isExported_withHelpAndAUnit_andNoLabelHoldsAnEventId()
      throws Exception {
    String consumer = "shipping-" + run;
    OutboxAdmin outbox = new OutboxAdmin(db, CourierTables.DEFAULT, Clock.systemUTC(), Duration.ZERO);
    outbox.bindTo(registry);
    DeadLetterAdmin deadLetters =
        DeadLetterAdmin.builder(db).consumers(List.of(consumer)).gaugeCacheTtl(Duration.ZERO).build();
    deadLetters.bindTo(registry);
    HorizonMonitor horizon = closeLater(HorizonMonitor.builder(db).build());
    horizon.bindTo(registry);
    horizon.check();
    serve();
    // a second outbox whose relay cannot reach its broker: failures, retries and dead rows
    CourierTables broken = new CourierTables("broken_outbox", "broken_processed", "broken_dead_letters");
    Schema.migrate(db, broken);
    appendTo(broken, "OrderConfirmed", 1);
    KafkaTransport unreachable =
        closeLater(
            KafkaTransport.builder()
                .bootstrapServers("127.0.0.1:" + freePort())
                .property("max.block.ms", "300")
                .closeTimeout(Duration.ofSeconds(1))
                .build());
    closeLater(
            Relay.builder(db, unreachable)
                .tables(broken)
                .retryPolicy(RetryPolicy.builder().maxAttempts(2).initialDelay(Duration.ZERO).build())
                .publishTimeout(Duration.ofSeconds(1))
                .lease(Duration.ofSeconds(5))
                .maxPollInterval(Duration.ofMillis(50))
                .meterRegistry(registry)
                .build())
        .start();
    // the main path: events applied, one retried once, one poison
    AtomicInteger calls = new AtomicInteger();
    append("ShipOrder", 3);
    startRelay(kafka(), Clock.systemUTC());
    subscribe(
        IdempotentProcessor.builder(
                consumer,
                db,
                (e, c) -> {
                  int n = calls.incrementAndGet();
                  if (n == 1) {
                    throw new IllegalStateException("carrier timeout");
                  }
                  if (n == 2) {
                    throw new PoisonEventException("no such warehouse");
                  }
                })
            .retryPolicy(RetryPolicy.builder().maxAttempts(3).initialDelay(Duration.ZERO).build())
            .meterRegistry(registry)
            .build());
    await().atMost(WAIT).until(() -> deadLetters.counts().of(consumer) == 1);
    await().atMost(WAIT).until(() -> new OutboxAdmin(db, broken).status().dead() == 1);
    await()
        .atMost(WAIT)
        .until(
            () -> registry.get("courier.consumer.processed").tag("consumer", consumer).counter().count() == 2);

    Scrape s = scrape();

    Set<String> read = new TreeSet<>();
    rules.all().values().forEach(r -> read.addAll(r.metricNames()));
    JSON.readTree(Path.of("../ops/grafana/courier-dashboard.json").toFile())
        .findValues("expr")
        .forEach(expr -> read.addAll(AlertRules.metricNames(expr.asText())));
    assertThat(read).as("names the rules and the dashboard read").hasSizeGreaterThan(10);
    assertThat(s.sampleNames()).as("exported names%n%s", s.courierLines()).containsAll(read);

    for (Scrape.Sample sample : s.all()) {
      for (Map.Entry<String, String> label : sample.labels().entrySet()) {
        assertThat(UUID_TEXT.matcher(label.getValue()).find())
            .as("label %s of %s holds an id: %s", label.getKey(), sample.name(), label.getValue())
            .isFalse();
      }
    }
    Pattern unit = Pattern.compile("courier_[a-z_]+_(events|attempts|seconds|relays|transactions|consumers)(_total|_max)?");
    s.types().keySet().stream()
        .filter(f -> f.startsWith("courier_"))
        .forEach(
            family -> {
              assertThat(family).as("one naming scheme: a unit suffix").matches(unit);
              assertThat(MetricNamesTest.repeatsItsUnit(family)).as("%s says its unit once", family).isFalse();
              assertThat(s.help().get(family)).as("help of %s", family).isNotBlank();
            });
  }

  // ----------------------------------------------------------------------------------------------

  private void serve(HealthCheck... checks) throws IOException {
    http = CourierHttpServer.start("127.0.0.1", 0, registry, new Readiness(List.of(checks)));
  }

  private Scrape scrape() {
    return Scrape.of(http.uri("/metrics"));
  }

  private JsonNode readyExpecting(int status) throws Exception {
    HttpResponse<String> r =
        HTTP.send(HttpRequest.newBuilder(http.uri("/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("readiness: %s", r.body()).isEqualTo(status);
    return JSON.readTree(r.body());
  }

  private KafkaTransport kafka() {
    return closeLater(
        KafkaTransport.builder().bootstrapServers(bootstrap).clientId("alerts-" + run).build());
  }

  private Relay startRelay(KafkaTransport transport, Clock clock) {
    Relay relay =
        closeLater(
            Relay.builder(db, transport)
                .relayId("alerts-" + run + "-" + closing.size())
                .clock(clock)
                .maxPollInterval(Duration.ofMillis(50))
                .meterRegistry(registry)
                .build());
    relay.start();
    return relay;
  }

  private IdempotentProcessor processor(String consumer, EventHandler handler) {
    return IdempotentProcessor.builder(consumer, db, handler).meterRegistry(registry).build();
  }

  private void subscribe(IdempotentProcessor processor) {
    Subscription s =
        kafka()
            .subscribe(
                // short polls and fetches: a retried record's partition resumes once the poll and
                // the fetch in flight return
                new SubscriptionSpec(
                    topic,
                    1024 * 1024,
                    Duration.ofMillis(20),
                    SubscriptionSpec.AfterCommitHook.NONE,
                    Map.of("fetch.max.wait.ms", "20")),
                processor);
    closeLater(s);
  }

  private void append(String type, int n) throws Exception {
    appendTo(CourierTables.DEFAULT, type, n);
  }

  private void appendTo(CourierTables tables, String type, int n) throws Exception {
    Outbox outbox = Outbox.builder().tables(tables).build();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < n; i++) {
        outbox.append(
            c, Event.builder(type).destination(topic).key("order-" + i).payload("{\"order\":" + i + "}"));
      }
      c.commit();
    }
  }

  private void execute(String sql) throws Exception {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    closing.add(resource);
    return resource;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** An alert listener that remembers what it was told. */
  private static final class Recorder implements AlertListener {
    final List<DeadLetterGrowth> growing = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void onDeadLetterGrowth(DeadLetterGrowth growth) {
      growing.add(growth);
    }
  }
}
