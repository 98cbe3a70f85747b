package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.server.AdminFixture;
import dev.courier.server.Observability;
import dev.courier.server.config.CourierConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** The HTTP admin API on the relay's HTTP server, against a real PostgreSQL. */
class AdminApiTest {
  private static final String TOKEN = "s3cret-token-for-tests-0123456789";
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();
  private AdminFixture f;
  private Observability observability;
  private URI base;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("http_admin");
    base = serve(Map.of("COURIER_ADMIN_TOKEN", TOKEN));
  }

  @AfterEach
  void tearDown() {
    if (observability != null) {
      observability.close();
    }
    f.close();
  }

  private URI serve(Map<String, String> extra) {
    if (observability != null) {
      observability.close();
    }
    Map<String, String> env = new HashMap<>(Map.of("COURIER_HTTP_PORT", "0"));
    env.putAll(extra);
    CourierConfig config = CourierConfig.loader().environment(env).load();
    observability = new Observability(config);
    observability.serveAdminApi(f.db, CourierTables.DEFAULT);
    return observability.serve(false).orElseThrow();
  }

  /** A read with the admin token, which reads need by default. */
  private HttpResponse<String> get(String path) throws Exception {
    return get(path, TOKEN);
  }

  private HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(String path, String body, String token, String operator) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(base.resolve(path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (operator != null) {
      b.header("X-Courier-Operator", operator);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  @Test
  void mutations_withoutAToken_are401_withAWrongToken_403_withTheRightOne_200() throws Exception {
    Event e = f.poison("billing", "k1");
    String body = "{\"ids\":[" + f.idOf(e) + "],\"reason\":\"fixed\"}";
    String before = f.snapshot();

    HttpResponse<String> none = post("/api/dlq/replay", body, null, null);
    HttpResponse<String> wrong = post("/api/dlq/replay", body, "not-the-token-at-all-000", null);
    HttpResponse<String> wrongScheme =
        HTTP.send(HttpRequest.newBuilder(base.resolve("/api/dlq/replay")).header("Authorization", "Basic YTpi")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());

    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    assertThat(json(none).get("error").asText()).contains("Authorization: Bearer");
    assertThat(wrong.statusCode()).isEqualTo(403);
    assertThat(wrongScheme.statusCode()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain(TOKEN);
    assertThat(f.snapshot()).as("refused calls change nothing").isEqualTo(before);

    HttpResponse<String> ok = post("/api/dlq/replay", body, TOKEN, "erin");

    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    JsonNode r = json(ok);
    assertThat(r.get("replayed").asInt()).isEqualTo(1);
    assertThat(r.get("alreadySubmitted").asBoolean()).isFalse();
    assertThat(r.get("items").get(0).asLong()).isEqualTo(f.idOf(e));
    assertThat(r.get("replayId").asText()).isNotBlank();
    assertThat(f.rows("SELECT operator, action, reason FROM courier_audit").toString())
        .isEqualTo("[{operator=erin, action=dlq.replay, reason=fixed}]");
  }

  @Test
  void replay_withTheSameReplayId_twice_enqueuesOnce_andDefaultsTheOperatorToHttp() throws Exception {
    Event e = f.poison("billing", "k1");
    String body = "{\"consumer\":\"billing\",\"replayId\":\"web-1\"}";

    JsonNode first = json(post("/api/dlq/replay", body, TOKEN, null));
    JsonNode second = json(post("/api/dlq/replay", body, TOKEN, null));

    assertThat(first.get("alreadySubmitted").asBoolean()).isFalse();
    assertThat(second.get("alreadySubmitted").asBoolean()).isTrue();
    assertThat(second.get("items")).isEqualTo(first.get("items"));
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE event_id = ?", e.id())).isEqualTo(1);
    assertThat(f.count("SELECT count(*) FROM courier_audit WHERE operator = 'http'")).isEqualTo(1);
  }

  @Test
  void dryRun_listsWithoutChanging() throws Exception {
    Event e = f.poison("billing", "k1");
    String before = f.snapshot();

    JsonNode r = json(post("/api/dlq/replay", "{\"all\":true,\"dryRun\":true}", TOKEN, null));

    assertThat(r.get("dryRun").asBoolean()).isTrue();
    assertThat(r.get("replayed").asInt()).isEqualTo(1);
    assertThat(r.get("items").get(0).asLong()).isEqualTo(f.idOf(e));
    assertThat(f.snapshot()).isEqualTo(before);
  }

  @Test
  void reads_listShowGroupsStatusAndProcessed_haveTheContractsFields() throws Exception {
    Event e = f.poison("billing", "k1");
    f.poison("shipping", "k2");
    long id = f.idOf(e);

    JsonNode list = json(get("/api/dlq?consumer=billing&page=0&size=10"));
    assertThat(list.get("total").asInt()).isEqualTo(1);
    assertThat(list.get("page").asInt()).isZero();
    assertThat(list.get("size").asInt()).isEqualTo(10);
    JsonNode item = list.get("items").get(0);
    assertThat(item.get("id").asLong()).isEqualTo(id);
    assertThat(item.get("eventId").asText()).isEqualTo(e.id().toString());
    assertThat(item.get("consumer").asText()).isEqualTo("billing");
    assertThat(item.get("type").asText()).isEqualTo("OrderPlaced");
    assertThat(item.get("key").asText()).isEqualTo("k1");
    assertThat(item.get("reason").asText()).isEqualTo("POISON");
    assertThat(item.get("fingerprint").asText()).hasSize(16);
    assertThat(item.get("errorMessage").asText()).isEqualTo("bad order k1");
    assertThat(item.get("attempts").asInt()).isEqualTo(1);
    assertThat(item.get("deadAt").asText()).endsWith("Z");
    assertThat(item.get("status").asText()).isEqualTo("DEAD");

    JsonNode show = json(get("/api/dlq/" + id));
    assertThat(show.get("payload").asText()).isEqualTo("{\"order\":\"k1\"}");
    assertThat(show.get("payloadEncoding").asText()).isEqualTo("utf-8");
    assertThat(show.get("headers").get("tenant").asText()).isEqualTo("acme");
    assertThat(show.get("stackTrace").asText()).contains("PoisonEventException");

    JsonNode groups = json(get("/api/dlq/groups"));
    assertThat(groups.get("groups")).hasSize(1);
    JsonNode g = groups.get("groups").get(0);
    assertThat(g.get("count").asInt()).isEqualTo(2);
    for (String field : new String[] {"fingerprint", "exceptionType", "topFrame", "messageShape", "consumers", "firstSeen", "lastSeen"}) {
      assertThat(g.has(field)).as(field).isTrue();
    }

    JsonNode status = json(get("/api/outbox/status"));
    assertThat(status.get("backlog").asInt()).isZero();
    assertThat(status.has("oldestAgeSeconds")).isTrue();
    assertThat(status.get("destinations").isArray()).isTrue();

    assertThat(json(get("/api/processed?eventId=" + e.id())).get("consumers")).isEmpty();
    f.consumer("billing", (ev, c) -> {}).process(e, 1, "redelivered");
    JsonNode processed = json(get("/api/processed?eventId=" + e.id()));
    assertThat(processed.get("eventId").asText()).isEqualTo(e.id().toString());
    assertThat(processed.get("consumers").get(0).asText()).isEqualTo("billing");
  }

  @Test
  void badInput_is400_unknownIds404_andNothingChanges() throws Exception {
    Event e = f.poison("billing", "k1");
    String before = f.snapshot();

    assertThat(get("/api/dlq?from=2026-11-27T10:00:00Z&to=2026-11-27T09:00:00Z").statusCode()).isEqualTo(400);
    assertThat(get("/api/dlq?from=last-tuesday").statusCode()).isEqualTo(400);
    assertThat(get("/api/dlq?colour=red").statusCode()).isEqualTo(400);
    assertThat(get("/api/dlq?page=-1").statusCode()).isEqualTo(400);
    assertThat(get("/api/dlq?size=100000").statusCode()).isEqualTo(400);
    assertThat(get("/api/processed?eventId=nope").statusCode()).isEqualTo(400);
    HttpResponse<String> unknown = get("/api/dlq/987654");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(json(unknown).get("error").asText()).contains("987654");
    assertThat(get("/api/dlq/abc").statusCode()).isEqualTo(404);
    assertThat(get("/api/nothing-here").statusCode()).isEqualTo(404);

    assertThat(post("/api/dlq/replay", "{\"ids\":[" + f.idOf(e) + ", 987654]}", TOKEN, null).statusCode()).isEqualTo(404);
    assertThat(post("/api/dlq/replay", "{}", TOKEN, null).statusCode()).isEqualTo(400);
    assertThat(post("/api/dlq/replay", "{\"consumer\":\"billing\",\"colour\":\"red\"}", TOKEN, null).statusCode()).isEqualTo(400);
    assertThat(post("/api/dlq/replay", "not json", TOKEN, null).statusCode()).isEqualTo(400);
    assertThat(post("/api/dlq/discard", "{\"ids\":[" + f.idOf(e) + "]}", TOKEN, null).statusCode())
        .as("discard needs a reason").isEqualTo(400);
    assertThat(post("/api/outbox/retry", "{\"ids\":[5],\"destination\":\"x\"}", TOKEN, null).statusCode()).isEqualTo(400);
    assertThat(post("/api/outbox/retry", "{\"ids\":[5]}", TOKEN, null).statusCode()).isEqualTo(404);
    assertThat(post("/api/dlq/replay", "{\"all\":true}", TOKEN, "x".repeat(300)).statusCode()).isEqualTo(400);

    assertThat(f.snapshot()).isEqualTo(before);
  }

  @Test
  void discardAndRetry_withTheToken_doTheirJob() throws Exception {
    Event e = f.poison("billing", "k1");

    HttpResponse<String> discard = post("/api/dlq/discard", "{\"ids\":[" + f.idOf(e) + "],\"reason\":\"test data\"}", TOKEN, "frank");
    HttpResponse<String> retry = post("/api/outbox/retry", "{\"destination\":\"orders\"}", TOKEN, null);

    assertThat(discard.statusCode()).as(discard.body()).isEqualTo(200);
    assertThat(json(discard).get("discarded").asInt()).isEqualTo(1);
    assertThat(json(get("/api/dlq?status=DISCARDED")).get("total").asInt()).isEqualTo(1);
    assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
    assertThat(json(retry).get("retried").asInt()).isZero();
    assertThat(json(get("/api/audit")).get("items")).hasSize(2);
  }

  @Test
  void historyReplay_needsTheToken_andReplaysOnce() throws Exception {
    f.count("INSERT INTO courier_outbox (event_id, event_type, destination, payload, created_at, available_at,"
        + " status, published_at) VALUES (gen_random_uuid(), 'OrderPlaced', 'orders', ''::bytea, now(), now(),"
        + " 'PUBLISHED', now()) RETURNING seq");
    String body = "{\"type\":\"OrderPlaced\",\"replayId\":\"h-1\"}";

    assertThat(post("/api/history/replay", body, null, null).statusCode()).isEqualTo(401);
    JsonNode first = json(post("/api/history/replay", body, TOKEN, null));
    JsonNode second = json(post("/api/history/replay", body, TOKEN, null));
    HttpResponse<String> bad = post("/api/history/replay", "{}", TOKEN, null);

    assertThat(first.get("replayed").asInt()).isEqualTo(1);
    assertThat(second.get("alreadySubmitted").asBoolean()).isTrue();
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).isEqualTo(1);
  }

  @Test
  void historyReplay_toAnotherDestinationForOneConsumer_andBadTargetsAreRefusedWith400ChangingNothing() throws Exception {
    f.count("INSERT INTO courier_outbox (event_id, event_type, destination, payload, created_at, available_at,"
        + " status, published_at) VALUES (gen_random_uuid(), 'OrderPlaced', 'orders', ''::bytea, now(), now(),"
        + " 'PUBLISHED', now()) RETURNING seq");
    f.count("INSERT INTO courier_processed_events (consumer, event_id, processed_at)"
        + " VALUES ('billing', gen_random_uuid(), now()) RETURNING 1");
    String before = f.snapshot();

    HttpResponse<String> badConsumer =
        post("/api/history/replay", "{\"type\":\"OrderPlaced\",\"consumer\":\"billing/eu\"}", TOKEN, null);
    HttpResponse<String> unknownConsumer =
        post("/api/history/replay", "{\"type\":\"OrderPlaced\",\"consumer\":\"biling\"}", TOKEN, null);
    HttpResponse<String> blankDestination =
        post("/api/history/replay", "{\"type\":\"OrderPlaced\",\"toDestination\":\"\"}", TOKEN, null);
    HttpResponse<String> numericConsumer =
        post("/api/history/replay", "{\"type\":\"OrderPlaced\",\"consumer\":7}", TOKEN, null);
    HttpResponse<String> noFilter = post("/api/history/replay", "{\"consumer\":\"billing\"}", TOKEN, null);
    HttpResponse<String> backwards = post("/api/history/replay",
        "{\"from\":\"1d\",\"to\":\"2d\",\"consumer\":\"billing\"}", TOKEN, null);
    assertThat(badConsumer.statusCode()).as(badConsumer.body()).isEqualTo(400);
    assertThat(json(badConsumer).get("error").asText()).contains("not a valid consumer name");
    assertThat(unknownConsumer.statusCode()).as(unknownConsumer.body()).isEqualTo(400);
    assertThat(json(unknownConsumer).get("error").asText()).startsWith("consumer: no consumer named 'biling'");
    assertThat(blankDestination.statusCode()).as(blankDestination.body()).isEqualTo(400);
    assertThat(json(blankDestination).get("error").asText()).startsWith("toDestination:");
    assertThat(numericConsumer.statusCode()).isEqualTo(400);
    assertThat(noFilter.statusCode()).isEqualTo(400);
    assertThat(backwards.statusCode()).isEqualTo(400);
    assertThat(f.snapshot()).as("refused calls change nothing").isEqualTo(before);

    String body = "{\"type\":\"OrderPlaced\",\"toDestination\":\"orders-v2\",\"consumer\":\"billing\",\"replayId\":\"h-2\"}";
    JsonNode first = json(post("/api/history/replay", body, TOKEN, "alice"));
    JsonNode second = json(post("/api/history/replay", body, TOKEN, "bob"));

    assertThat(first.get("replayed").asInt()).isEqualTo(1);
    assertThat(first.get("toDestination").asText()).isEqualTo("orders-v2");
    assertThat(first.get("consumer").asText()).isEqualTo("billing");
    assertThat(second.get("alreadySubmitted").asBoolean()).isTrue();
    assertThat(second.get("consumer").asText()).isEqualTo("billing");
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING' AND destination = 'orders-v2'"
        + " AND headers::jsonb ->> 'courier-replay-consumer' = 'billing'")).isEqualTo(1);
    assertThat(f.count("SELECT count(*) FROM courier_audit WHERE action = 'history.replay' AND operator = 'alice'"))
        .isEqualTo(1);
  }

  @Test
  void withoutAConfiguredToken_everyMutationIsRefused_namingTheSetting() throws Exception {
    base = serve(Map.of());
    f.poison("billing", "k1");

    HttpResponse<String> r = post("/api/dlq/replay", "{\"all\":true}", "anything-at-all-0000", null);
    HttpResponse<String> noHeader = post("/api/dlq/replay", "{\"all\":true}", null, null);

    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(noHeader.statusCode()).isEqualTo(401);
    assertThat(json(noHeader).get("error").asText()).contains("courier.admin.token");
    HttpResponse<String> read = get("/api/dlq", null);
    assertThat(read.statusCode()).as("reads need the token too").isEqualTo(401);
    assertThat(json(read).get("error").asText()).contains("courier.admin.token").contains("courier.admin.open-reads");
  }

  @Test
  void reads_needTheToken_unlessOpenedOnLoopback() throws Exception {
    f.poison("billing", "k1");

    assertThat(get("/api/dlq", null).statusCode()).isEqualTo(401);
    assertThat(get("/api/dlq", "not-the-token-at-all-000").statusCode()).isEqualTo(403);
    assertThat(get("/api/dlq", TOKEN).statusCode()).isEqualTo(200);

    base = serve(Map.of("COURIER_ADMIN_OPEN_READS", "true"));
    assertThat(get("/api/dlq", null).statusCode()).as("opened on loopback").isEqualTo(200);
    assertThat(post("/api/dlq/replay", "{\"all\":true}", null, null).statusCode())
        .as("changes still need the token").isEqualTo(401);
  }

  @Test
  void openReads_onANonLoopbackAddress_refuseToStart() {
    observability.close();
    observability =
        new Observability(
            CourierConfig.loader()
                .environment(Map.of(
                    "COURIER_HTTP_HOST", "0.0.0.0", "COURIER_HTTP_PORT", "0", "COURIER_ADMIN_TOKEN", TOKEN,
                    "COURIER_ADMIN_OPEN_READS", "true", "COURIER_HTTP_ALLOW_PLAINTEXT", "true"))
                .load());

    assertThatThrownBy(() -> observability.serveAdminApi(f.db, CourierTables.DEFAULT))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("courier.admin.open-reads")
        .hasMessageContaining("0.0.0.0");
  }

  @Test
  void bulkCalls_areBounded_andSayWhenMoreMayMatch() throws Exception {
    for (int i = 0; i < 3; i++) {
      f.poison("billing", "k" + i);
    }

    HttpResponse<String> negative = get("/api/audit?limit=-1");
    HttpResponse<String> huge = get("/api/audit?limit=1000000");
    HttpResponse<String> groups = get("/api/dlq/groups?limit=0");
    HttpResponse<String> slowReplay = post("/api/dlq/replay", "{\"all\":true,\"rate\":0.001}", TOKEN, null);
    HttpResponse<String> fractionalLimit = post("/api/dlq/replay", "{\"all\":true,\"limit\":2.5}", TOKEN, null);

    assertThat(negative.statusCode()).isEqualTo(400);
    assertThat(json(negative).get("error").asText()).contains("limit").contains("between 1 and 1000").doesNotContain("LIMIT");
    assertThat(huge.statusCode()).isEqualTo(400);
    assertThat(groups.statusCode()).isEqualTo(400);
    assertThat(slowReplay.statusCode()).isEqualTo(400);
    assertThat(json(slowReplay).get("error").asText()).contains("rate");
    assertThat(fractionalLimit.statusCode()).isEqualTo(400);
    assertThat(get("/api/dlq/groups?limit=1").statusCode()).isEqualTo(200);

    JsonNode first = json(post("/api/dlq/discard", "{\"all\":true,\"limit\":2,\"reason\":\"noise\"}", TOKEN, null));
    JsonNode second = json(post("/api/dlq/discard", "{\"all\":true,\"limit\":2,\"reason\":\"noise\"}", TOKEN, null));

    assertThat(first.get("discarded").asInt()).isEqualTo(2);
    assertThat(first.get("more").asBoolean()).isTrue();
    assertThat(second.get("discarded").asInt()).isEqualTo(1);
    assertThat(second.get("more").asBoolean()).isFalse();
    assertThat(f.count("SELECT count(*) FROM courier_dead_letters WHERE status = 'DISCARDED'")).isEqualTo(3);
  }

  @Test
  void consumers_arePausedAndResumed_withTheToken_andAReason_andListed() throws Exception {
    HttpResponse<String> noToken = post("/api/consumers/pause", "{\"consumer\":\"billing\",\"reason\":\"incident\"}", null, null);
    HttpResponse<String> noReason = post("/api/consumers/pause", "{\"consumer\":\"billing\"}", TOKEN, null);
    HttpResponse<String> badName = post("/api/consumers/pause", "{\"consumer\":\"no spaces\",\"reason\":\"x\"}", TOKEN, null);

    assertThat(noToken.statusCode()).isEqualTo(401);
    assertThat(noReason.statusCode()).isEqualTo(400);
    assertThat(badName.statusCode()).isEqualTo(400);
    assertThat(json(get("/api/consumers/paused")).get("paused")).isEmpty();

    JsonNode paused = json(post("/api/consumers/pause", "{\"consumer\":\"billing\",\"reason\":\"incident 7\"}", TOKEN, "erin"));
    JsonNode list = json(get("/api/consumers/paused"));
    JsonNode again = json(post("/api/consumers/pause", "{\"consumer\":\"billing\",\"reason\":\"twice\"}", TOKEN, "erin"));
    JsonNode resumed = json(post("/api/consumers/resume", "{\"consumer\":\"billing\",\"reason\":\"fixed\"}", TOKEN, "erin"));

    assertThat(paused.get("paused").asBoolean()).isTrue();
    assertThat(list.at("/paused/0/consumer").asText()).isEqualTo("billing");
    assertThat(list.at("/paused/0/pausedBy").asText()).isEqualTo("erin");
    assertThat(list.at("/paused/0/reason").asText()).isEqualTo("incident 7");
    assertThat(list.at("/paused/0/automatic").asBoolean()).isFalse();
    assertThat(again.get("paused").asBoolean()).isFalse();
    assertThat(resumed.get("resumed").asBoolean()).isTrue();
    assertThat(json(get("/api/consumers/paused")).get("paused")).isEmpty();
    assertThat(f.rows("SELECT action, operator FROM courier_audit WHERE action LIKE 'consumer.%' ORDER BY id").toString())
        .isEqualTo("[{action=consumer.pause, operator=erin}, {action=consumer.resume, operator=erin}]");
  }

  @Test
  void aFailureOnTheServersSide_isAnsweredWithAReference_notTheDatabasesMessage() throws Exception {
    f.rows("DROP TABLE courier_audit");

    HttpResponse<String> r = get("/api/audit");

    assertThat(r.statusCode()).isEqualTo(500);
    JsonNode body = json(r);
    assertThat(body.get("reference").asText()).matches("[0-9a-f]{8}");
    assertThat(body.get("error").asText()).contains(body.get("reference").asText());
    assertThat(r.body()).doesNotContain("courier_audit").doesNotContain("does not exist").doesNotContain("SELECT");
  }

  @Test
  void onANonLoopbackAddress_withoutAToken_theServerRefusesToStart() {
    observability.close();
    CourierConfig exposed =
        CourierConfig.loader().environment(Map.of("COURIER_HTTP_HOST", "0.0.0.0", "COURIER_HTTP_PORT", "0")).load();
    observability = new Observability(exposed);

    assertThatThrownBy(() -> observability.serveAdminApi(f.db, CourierTables.DEFAULT))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("courier.admin.token")
        .hasMessageContaining("0.0.0.0");
    AdminApi.requireSafeExposure("0.0.0.0", true);
    AdminApi.requireSafeExposure("localhost", false);
    AdminApi.requireSafeExposure("::1", false);
  }

  @Test
  void theToken_neverShowsInToStringOrTheConfigurationDescription() {
    CourierConfig config = CourierConfig.loader().environment(Map.of("COURIER_ADMIN_TOKEN", TOKEN)).load();
    AdminApi api = new AdminApi(f.db, CourierTables.DEFAULT, java.time.Clock.systemUTC(), config.admin().token());

    assertThat(config.toString()).doesNotContain(TOKEN);
    assertThat(config.describe()).doesNotContain(TOKEN).contains("courier.admin.token");
    assertThat(config.admin().toString()).doesNotContain(TOKEN);
    assertThat(api.toString()).doesNotContain(TOKEN);
    assertThatThrownBy(() -> CourierConfig.loader().environment(Map.of("COURIER_ADMIN_TOKEN", "short")).load())
        .hasMessageContaining("courier.admin.token")
        .hasMessageNotContaining("short\"")
        .hasMessageContaining("at least 16");
  }

  @Test
  void onANonLoopbackAddress_readsNeedTheTokenToo() throws Exception {
    observability.close();
    observability = null;
    AdminApi exposed = new AdminApi(f.db, CourierTables.DEFAULT, java.time.Clock.systemUTC(),
        new dev.courier.server.config.AdminToken(TOKEN), true);
    var registry = new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
    try (CourierHttpServer server = CourierHttpServer.start("127.0.0.1", 0, registry, new Readiness(java.util.List.of()))) {
      server.mount(AdminApi.PREFIX, exposed);
      base = server.uri("/");
      HttpResponse<String> anonymous = get("/api/dlq", null);
      HttpResponse<String> withToken =
          HTTP.send(HttpRequest.newBuilder(base.resolve("/api/dlq")).header("Authorization", "Bearer " + TOKEN).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(anonymous.statusCode()).isEqualTo(401);
      assertThat(withToken.statusCode()).isEqualTo(200);
    }
  }

  @Test
  void whenTheDatabaseIsUnreachable_readsAnswer503() throws Exception {
    PGSimpleDataSource down = new PGSimpleDataSource();
    down.setUrl("jdbc:postgresql://127.0.0.1:1/test");
    down.setConnectTimeout(1);
    observability.close();
    observability = new Observability(CourierConfig.loader().environment(Map.of("COURIER_HTTP_PORT", "0")).load());
    observability.serveAdminApi(down, CourierTables.DEFAULT);
    base = observability.serve(false).orElseThrow();

    HttpResponse<String> r = get("/api/outbox/status", null);

    assertThat(r.statusCode()).as("reads need the token first").isEqualTo(401);
    observability.close();
    observability =
        new Observability(
            CourierConfig.loader().environment(Map.of("COURIER_HTTP_PORT", "0", "COURIER_ADMIN_TOKEN", TOKEN)).load());
    observability.serveAdminApi(down, CourierTables.DEFAULT);
    base = observability.serve(false).orElseThrow();
    r = get("/api/outbox/status");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
    assertThat(json(r).get("error").asText()).contains("unreachable");
    assertThat(r.body()).doesNotContain("127.0.0.1:1").doesNotContain("Connection refused");
  }
}
