package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.DeadLetterSummary;
import dev.courier.embedded.KafkaEndpoint;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.LedgerAdmin;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.relay.Relay;
import dev.courier.server.browser.BrowserPage;
import dev.courier.server.browser.Chromium;
import dev.courier.server.config.AdminToken;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.TestDatabase;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The web dashboard in a real headless Chromium, against a running system: PostgreSQL, an embedded
 * Kafka broker, a relay, a consumer, the admin API and the dashboard served by one HTTP server. A
 * handler bug dead-letters events through the real consumer path; the test then uses the page as
 * an operator would: finds the dead letter in the table, opens it, replays it by clicking (a wrong
 * token first, which must be refused visibly and change nothing), and waits until the page shows it
 * processed, which the processed-events ledger confirms; then it lists the other dead letter from
 * its failure group and discards it. A second test checks the page's own Prometheus arithmetic
 * (rates, counter resets, histogram quantiles) in the same browser.
 *
 * <p>The screenshot of the finished page goes to {@code target/dashboard.png}, and to {@code
 * docs/dashboard.png} (shown in the README) when that file is missing or when {@code
 * COURIER_UPDATE_SCREENSHOT=true}, so that an ordinary build leaves the committed image alone.
 *
 * <p>Without Chromium the test is skipped with a banner, or fails when {@code CI=true}.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class DashboardBrowserTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int WIDTH = 1400;
  private static final int HEIGHT = 1000;
  private static final String CONSUMER = "billing";
  private static final String TOKEN = "dashboard-test-token-" + UUID.randomUUID();

  private static Chromium chromium;
  private static String bootstrap;

  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final String topic = "dashboard-" + run;
  private final List<AutoCloseable> closing = new ArrayList<>();
  private final AtomicBoolean taxTableMissing = new AtomicBoolean(true);
  private PGSimpleDataSource db;
  private PrometheusMeterRegistry registry;
  private CourierHttpServer http;
  private OutboxAdmin outboxGauges;
  private DeadLetterAdmin deadLetterGauges;

  @BeforeAll
  static void browser() throws Exception {
    // a missing browser is reported per test (below), so that the skip shows in the test counts
    if (Chromium.isInstalled()) {
      chromium = Chromium.launch(WIDTH, HEIGHT);
      bootstrap = KafkaEndpoint.fromEnvironmentOrEmbedded().bootstrapServers();
    }
  }

  @AfterAll
  static void closeBrowser() throws Exception {
    if (chromium != null) {
      chromium.close();
    }
  }

  @BeforeEach
  void system() throws Exception {
    Chromium.require();
    KafkaEndpoint.fromEnvironmentOrEmbedded().createTopic(topic, 3);
    db = TestDatabase.shared().freshSchema("dashboard");
    Schema.migrate(db, CourierTables.DEFAULT);
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // kept in fields: Micrometer holds gauge sources weakly
    outboxGauges = new OutboxAdmin(db, CourierTables.DEFAULT);
    outboxGauges.bindTo(registry);
    deadLetterGauges = DeadLetterAdmin.builder(db).consumers(List.of(CONSUMER)).build();
    deadLetterGauges.bindTo(registry);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (db == null) {
      return; // skipped before anything started
    }
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
  void aDeadLetter_isShownInTheTable_replayedByAClickWithTheToken_andShownAsProcessed()
      throws Exception {
    // a handler that cannot bill orders from regions missing in its tax table: poison, at once
    Relay relay = startRelay();
    subscribe(
        IdempotentProcessor.builder(CONSUMER, db, new Billing(taxTableMissing))
            .meterRegistry(registry)
            .build());
    UUID poisoned = append("BillOrder", "order-1001", "US");
    UUID otherPoisoned = append("BillOrder", "order-1002", "CA");
    for (int i = 0; i < 40; i++) {
      append("BillOrder", "order-" + (2000 + i), "EU");
    }
    DeadLetterAdmin deadLetters = DeadLetterAdmin.builder(db).build();
    await().atMost(WAIT).until(() -> deadLetters.counts().of(CONSUMER) == 2);
    long id = deadLetterOf(deadLetters, poisoned).id();

    serve();
    Thread traffic = Thread.ofVirtual().start(this::steadyTraffic);
    closing.add(traffic::interrupt);

    BrowserPage page = chromium.newPage(WIDTH, HEIGHT);
    page.navigate(http.uri("/?refresh=1"));
    String row = "#dlq-table tr[data-event-id='" + poisoned + "']";
    page.waitUntil("the dead letter's row", WAIT, "document.querySelector(\"" + row + "\")");
    assertThat(page.text(row)).contains(CONSUMER, "BillOrder", "order-1001", "POISON", "no tax rate for region US", "DEAD");

    // show: the detail names the error and carries the payload
    page.click(row + " button[data-action='show']");
    page.waitUntil("the detail dialog", WAIT, "document.getElementById('detail-dialog').open");
    assertThat(page.text("#detail-fields")).contains(poisoned.toString(), "no tax rate for region US");
    assertThat(page.text("#detail-payload")).contains("order-1001");
    page.click("#detail-dialog button[value='close']");

    // the bug is fixed: the tax table has every region now
    taxTableMissing.set(false);

    // replay with a wrong token: refused, and said so; nothing changes
    page.click(row + " button[data-action='replay']");
    page.waitUntil("the replay dialog", WAIT, "document.getElementById('action-dialog').open");
    assertThat(page.visible("#action-token")).as("the page asks for the token").isTrue();
    page.type("#action-token", "not-the-token");
    page.type("#action-reason", "tax table has every region now");
    page.click("#action-confirm");
    page.waitUntil("the refusal", WAIT, "!document.getElementById('action-error').hidden");
    assertThat(page.text("#action-error"))
        .contains("Refused (403 Forbidden)")
        .contains("the bearer token is not the configured admin token");
    assertThat(page.text("#alerts")).contains("Refused (403 Forbidden)");
    assertThat(deadLetters.show(id).summary().status()).isEqualTo(DeadLetterStatus.DEAD);
    assertThat(page.eval("sessionStorage.length").asInt()).as("a refused token is not kept").isZero();

    // the right token: replayed, and shown as processed once the consumer has committed it
    page.type("#action-token", TOKEN);
    page.click("#action-confirm");
    page.waitUntil("the dialog to close", WAIT, "!document.getElementById('action-dialog').open");
    page.waitUntil(
        "the row to show the event replayed and processed", WAIT,
        "document.querySelector(\"" + row + " .badge-replayed\")"
            + " && document.querySelector(\"" + row + " .badge-processed\")");
    assertThat(page.text(row + " td.status")).contains("REPLAYED", "processed");
    assertThat(new LedgerAdmin(db, CourierTables.DEFAULT).processedBy(poisoned))
        .extracting(LedgerAdmin.Processed::consumer)
        .containsExactly(CONSUMER);
    assertThat(deadLetters.show(id).summary().status()).isEqualTo(DeadLetterStatus.REPLAYED);
    assertThat(page.eval("location.href").asText()).as("the token never goes into the URL").doesNotContain(TOKEN);
    assertThat(page.eval("sessionStorage.getItem('courier.adminToken')").asText()).isEqualTo(TOKEN);

    // the other dead letter is still there to act on, and the failure groups list both
    assertThat(page.text("#groups-table")).contains("PoisonEventException");

    // the charts have drawn a few points of live data
    page.waitUntil(
        "the charts to show a few seconds of data", WAIT,
        "document.querySelectorAll('.chart .u-over').length === 6"
            + " && document.getElementById('tile-publish').textContent !== '–'");
    // a few more seconds of traffic, for the screenshot's sake
    Thread.sleep(8000);
    screenshot(page);

    // the remaining failure group lists its dead letter, which is discarded with the kept token
    long other = deadLetterOf(deadLetters, otherPoisoned).id();
    page.click("#groups-table tbody tr[data-fingerprint] button");
    String otherRow = "#dlq-table tr[data-id='" + other + "']";
    page.waitUntil(
        "the table filtered to the group", WAIT,
        "document.querySelectorAll('#dlq-table tbody tr[data-id]').length === 1"
            + " && document.querySelector(\"" + otherRow + "\")");
    page.click(otherRow + " button[data-action='discard']");
    page.waitUntil("the discard dialog", WAIT, "document.getElementById('action-dialog').open");
    assertThat(page.visible("#action-token")).as("the token is kept for the tab").isFalse();
    page.type("#action-reason", "order cancelled by the customer");
    page.click("#action-confirm");
    page.waitUntil("the row to show it discarded", WAIT, "document.querySelector(\"" + otherRow + " .badge-discarded\")");
    assertThat(deadLetters.show(other).summary().status()).isEqualTo(DeadLetterStatus.DISCARDED);

    // a paused consumer is listed, and resumed by a click with the kept token
    dev.courier.inbox.ConsumerPauses pauses = new dev.courier.inbox.ConsumerPauses(db, CourierTables.DEFAULT, java.time.Clock.systemUTC());
    pauses.pause("shipping", new dev.courier.admin.Attribution("carol", "carrier outage"), false);
    String pausedRow = "#pauses-table tr[data-consumer='shipping']";
    page.waitUntil("the paused consumer's row", WAIT, "document.querySelector(\"" + pausedRow + "\")");
    assertThat(page.text(pausedRow)).contains("shipping", "carol", "carrier outage");
    page.click(pausedRow + " button");
    page.waitUntil("the resume dialog", WAIT, "document.getElementById('action-dialog').open");
    page.type("#action-reason", "carrier back");
    page.click("#action-confirm");
    page.waitUntil("the row to go", WAIT, "!document.querySelector(\"" + pausedRow + "\")");
    assertThat(pauses.pauseOf("shipping")).isEmpty();

    assertThat(page.errors())
        .as("errors the page reported, other than the refused replay")
        .filteredOn(e -> !e.contains("status of 403"))
        .isEmpty();
    assertThat(relay.state()).isEqualTo(Relay.State.RUNNING);
  }

  @Test
  void thePrometheusReader_computesRatesAndQuantilesAsPrometheusDoes() throws Exception {
    serve();
    BrowserPage page = chromium.newPage(WIDTH, HEIGHT);
    page.navigate(http.uri("/"));

    String earlier =
        """
        # TYPE x_seconds histogram
        x_seconds_bucket{le="0.1",consumer="a"} 10
        x_seconds_bucket{le="0.5",consumer="a"} 10
        x_seconds_bucket{le="+Inf",consumer="a"} 10
        c_total{consumer="a",note="say \\"hi\\""} 5
        """;
    String later =
        """
        x_seconds_bucket{le="0.1",consumer="a"} 60
        x_seconds_bucket{le="0.5",consumer="a"} 110
        x_seconds_bucket{le="+Inf",consumer="a"} 110
        c_total{consumer="a",note="say \\"hi\\""} 25
        c_total{consumer="b",note=""} 3
        """;
    String reset = "c_total{consumer=\"a\",note=\"say \\\"hi\\\"\"} 2\n";
    JsonNode r =
        page.eval(
            "(() => { const P = CourierProm;"
                + " const a = new P.Scrape(" + js(earlier) + ", 100), b = new P.Scrape(" + js(later) + ", 110);"
                + " const c = new P.Scrape(" + js(reset) + ", 120);"
                + " return { rate: P.rate(a, b, 'c_total'),"
                + " p50: P.quantile(0.5, a, b, 'x_seconds'), p99: P.quantile(0.99, a, b, 'x_seconds'),"
                + " label: b.samples('c_total', {consumer: 'a'})[0].labels.note,"
                + " reset: P.rate(b, c, 'c_total', {consumer: 'a'}),"
                + " none: P.quantile(0.5, b, b, 'x_seconds') }; })()");

    // 20 more on the known series, 3 on a series new since the earlier scrape, over 10 s
    assertThat(r.get("rate").asDouble()).isEqualTo(2.3);
    // 100 new observations: 50 at most 0.1 s, 50 between 0.1 and 0.5 s
    assertThat(r.get("p50").asDouble()).isEqualTo(0.1);
    assertThat(r.get("p99").asDouble()).isCloseTo(0.492, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(r.get("label").asText()).isEqualTo("say \"hi\"");
    assertThat(r.get("none").isNull()).as("no observations, no quantile").isTrue();
    // a counter that went down was reset: its whole value counts, over 10 s
    assertThat(r.get("reset").asDouble()).isEqualTo(0.2);
  }

  // ----------------------------------------------------------------------------------------------

  private void serve() throws Exception {
    http = CourierHttpServer.start("127.0.0.1", 0, registry, Readiness.alwaysReady());
    http.mount(
        AdminApi.PREFIX,
        new AdminApi(db, CourierTables.DEFAULT, Clock.systemUTC(), new AdminToken(TOKEN), false));
  }

  private void screenshot(BrowserPage page) throws Exception {
    Path target = Path.of("target", "dashboard.png");
    page.screenshot(target);
    Path docs = Path.of("..", "docs", "dashboard.png");
    boolean update =
        "true".equalsIgnoreCase(System.getenv("COURIER_UPDATE_SCREENSHOT"))
            || Boolean.getBoolean("courier.updateScreenshot");
    if (Files.isDirectory(docs.getParent()) && (update || !Files.exists(docs))) {
      Files.copy(target, docs, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private DeadLetterSummary deadLetterOf(DeadLetterAdmin admin, UUID eventId) {
    return admin.list(DeadLetterFilter.builder().consumer(CONSUMER).build(), 1, 100).items().stream()
        .filter(d -> eventId.equals(d.eventId()))
        .findFirst()
        .orElseThrow();
  }

  /** A few orders a second while the page is open, so that the rate charts have something. */
  private void steadyTraffic() {
    int n = 0;
    try {
      while (!Thread.currentThread().isInterrupted()) {
        append("BillOrder", "order-" + (5000 + n++), "EU");
        Thread.sleep(100);
      }
    } catch (InterruptedException e) {
      // the test is over
    } catch (Exception e) {
      // the schema is being dropped at the end of the test
    }
  }

  private Relay startRelay() {
    KafkaTransport transport =
        closeLater(KafkaTransport.builder().bootstrapServers(bootstrap).clientId("dashboard-" + run).build());
    Relay relay =
        closeLater(
            Relay.builder(db, transport)
                .relayId("dashboard-" + run)
                .maxPollInterval(Duration.ofMillis(50))
                .meterRegistry(registry)
                .build());
    relay.start();
    return relay;
  }

  private void subscribe(IdempotentProcessor processor) {
    KafkaTransport transport =
        closeLater(KafkaTransport.builder().bootstrapServers(bootstrap).clientId("dashboard-c-" + run).build());
    Subscription s =
        transport.subscribe(
            new SubscriptionSpec(
                topic,
                1024 * 1024,
                Duration.ofMillis(20),
                SubscriptionSpec.AfterCommitHook.NONE,
                Map.of("fetch.max.wait.ms", "20")),
            processor);
    closeLater(s);
  }

  private UUID append(String type, String key, String region) throws Exception {
    Outbox outbox = Outbox.builder().build();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      Event e =
          outbox.append(
              c,
              Event.builder(type)
                  .destination(topic)
                  .key(key)
                  .header("region", region)
                  .payload("{\"order\":\"" + key + "\",\"region\":\"" + region + "\",\"total\":42.50}"));
      c.commit();
      return e.id();
    }
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    closing.add(resource);
    return resource;
  }

  /** Bills orders; while its tax table knows only the EU, other regions' orders are poison. */
  private record Billing(AtomicBoolean taxTableMissing) implements EventHandler {
    @Override
    public void handle(Event event, Connection connection) {
      String region = event.headers().getOrDefault("region", "EU");
      if (taxTableMissing.get() && !region.equals("EU")) {
        throw new PoisonEventException("no tax rate for region " + region);
      }
    }
  }

  /** Text as a JavaScript string literal (JSON's string syntax is one). */
  private static String js(String text) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(text);
  }
}
