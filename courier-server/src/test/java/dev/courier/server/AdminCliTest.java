package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Event;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator verbs against a real PostgreSQL: each does its job, says so in a table or in JSON,
 * and exits 0; bad input exits non-zero with a clear error and changes nothing.
 */
class AdminCliTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private AdminFixture f;
  private Map<String, String> env;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("cli_admin");
    env = f.environment();
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private CliRun run(String... args) {
    return CliRun.of(env, args);
  }

  private JsonNode json(CliRun run) throws Exception {
    return JSON.readTree(run.out());
  }

  private long outboxRow(String destination, String status) {
    Instant now = Instant.now();
    return f.count(
        "INSERT INTO courier_outbox (event_id, event_type, destination, payload, created_at, available_at,"
            + " status, attempts, dead_at) VALUES (?, 'T', ?, ''::bytea, ?, ?, ?, 10, ?) RETURNING seq",
        UUID.randomUUID(), destination, Timestamp.from(now.minusSeconds(90)), Timestamp.from(now), status,
        status.equals("DEAD") ? Timestamp.from(now) : null);
  }

  // --- outbox -------------------------------------------------------------------------------

  @Test
  void outboxStatus_showsBacklogOldestAgeAndDeadRowsPerDestination() throws Exception {
    outboxRow("orders", "PENDING");
    outboxRow("orders", "DEAD");
    outboxRow("payments", "DEAD");

    CliRun table = run("outbox", "status");
    CliRun js = run("outbox", "status", "--json");

    assertThat(table.exitCode()).as(table.toString()).isZero();
    assertThat(table.out()).contains("backlog 1").contains("dead 2").contains("DESTINATION").contains("payments");
    JsonNode n = json(js);
    assertThat(n.get("backlog").asLong()).isEqualTo(1);
    assertThat(n.get("dead").asLong()).isEqualTo(2);
    assertThat(n.get("oldestAgeSeconds").asDouble()).isGreaterThanOrEqualTo(89);
    assertThat(n.get("destinations")).hasSize(2);
    assertThat(n.get("destinations").get(0).get("destination").asText()).isEqualTo("orders");
  }

  @Test
  void outboxRetry_byIdAndByDestination_andUnknownIdChangesNothing() throws Exception {
    long a = outboxRow("orders", "DEAD");
    outboxRow("payments", "DEAD");

    CliRun dead = run("outbox", "dead", "--json");
    assertThat(json(dead).get("items")).hasSize(2);

    String before = f.snapshot();
    CliRun unknown = run("outbox", "retry", String.valueOf(a), "999999");
    assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(1);
    assertThat(unknown.err()).contains("not found").contains("999999");
    assertThat(f.snapshot()).isEqualTo(before);

    CliRun none = run("outbox", "retry");
    assertThat(none.exitCode()).as(none.toString()).isEqualTo(2);
    assertThat(none.err()).contains("bad input");

    CliRun byId = run("outbox", "retry", String.valueOf(a), "--reason", "broker back", "--json");
    assertThat(byId.exitCode()).as(byId.toString()).isZero();
    assertThat(json(byId).get("retried").asInt()).isEqualTo(1);
    CliRun byDestination = run("outbox", "retry", "--destination", "payments", "--operator", "dave");
    assertThat(byDestination.out()).contains("retried 1 dead outbox row");
    assertThat(run("outbox", "retry", "--all").exitCode()).as("nothing left to retry").isEqualTo(1);

    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).isEqualTo(2);
    assertThat(f.rows("SELECT operator, reason FROM courier_audit WHERE action = 'outbox.retry' ORDER BY id").toString())
        .isEqualTo("[{operator=carol, reason=broker back}, {operator=dave, reason=null}, {operator=carol, reason=null}]");
  }

  // --- dlq ----------------------------------------------------------------------------------

  @Test
  void dlqList_filtersAndPages_inATableOrJson() throws Exception {
    f.poison("billing", "k1");
    f.poison("billing", "k2");
    f.poison("shipping", "k3");

    CliRun table = run("dlq", "list", "--consumer", "billing");
    assertThat(table.exitCode()).as(table.toString()).isZero();
    assertThat(table.out()).contains("CONSUMER").contains("k1").contains("k2").doesNotContain("k3").contains("page 1 of 1");

    JsonNode page = json(run("dlq", "list", "--json", "--size", "2", "--page", "2"));
    assertThat(page.get("total").asInt()).isEqualTo(3);
    assertThat(page.get("page").asInt()).isEqualTo(2);
    assertThat(page.get("items")).hasSize(1);
    JsonNode item = page.get("items").get(0);
    for (String field : new String[] {"id", "eventId", "consumer", "type", "key", "reason", "fingerprint", "errorMessage", "attempts", "deadAt", "status"}) {
      assertThat(item.has(field)).as(field).isTrue();
    }

    assertThat(run("dlq", "list", "--key", "k3", "--json").out()).contains("shipping");
    assertThat(run("dlq", "list", "--type", "NoSuchType").exitCode()).as("nothing matched").isEqualTo(1);
    assertThat(run("dlq", "list", "--from", "1h", "--to", Instant.now().plusSeconds(60).toString()).exitCode()).isZero();
  }

  @Test
  void dlqList_badTimeRangeOrBadFilter_exits2WithAClearError() {
    f.poison("billing", "k1");

    CliRun backwards = run("dlq", "list", "--from", "2026-11-27T10:00:00Z", "--to", "2026-11-27T09:00:00Z");
    CliRun garbage = run("dlq", "list", "--from", "yesterday-ish");
    CliRun fingerprint = run("dlq", "list", "--fingerprint", "x'; DROP TABLE courier_outbox; --");
    CliRun status = run("dlq", "list", "--status", "ZOMBIE");
    CliRun option = run("dlq", "list", "--colour", "red");

    assertThat(backwards.exitCode()).as(backwards.toString()).isEqualTo(2);
    assertThat(backwards.err()).contains("from").contains("must be before");
    assertThat(garbage.exitCode()).isEqualTo(2);
    assertThat(garbage.err()).contains("--from").contains("is not a time");
    assertThat(fingerprint.exitCode()).isEqualTo(2);
    assertThat(fingerprint.err()).contains("fingerprint");
    assertThat(status.exitCode()).isEqualTo(2);
    assertThat(option.exitCode()).isEqualTo(2);
    assertThat(f.count("SELECT count(*) FROM courier_outbox")).isZero();
  }

  @Test
  void dlqShow_printsPayloadHeadersErrorAndStack_andUnknownIdExits1() throws Exception {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);

    CliRun show = run("dlq", "show", String.valueOf(id));
    JsonNode js = json(run("dlq", "show", String.valueOf(id), "--json"));
    CliRun unknown = run("dlq", "show", "424242");
    CliRun notANumber = run("dlq", "show", "abc");

    assertThat(show.exitCode()).as(show.toString()).isZero();
    assertThat(show.out()).contains("{\"order\":\"k1\"}").contains("tenant: acme").contains("bad order k1").contains("PoisonEventException");
    assertThat(js.get("payload").asText()).isEqualTo("{\"order\":\"k1\"}");
    assertThat(js.get("payloadEncoding").asText()).isEqualTo("utf-8");
    assertThat(js.get("headers").get("tenant").asText()).isEqualTo("acme");
    assertThat(js.get("stackTrace").asText()).contains("PoisonEventException");
    assertThat(js.get("attempts").asInt()).isEqualTo(1);
    assertThat(unknown.exitCode()).isEqualTo(1);
    assertThat(unknown.err()).contains("no dead letter with id 424242");
    assertThat(notANumber.exitCode()).isEqualTo(2);
  }

  @Test
  void storedControlCharacters_areShownEscaped_unlessRaw_andJsonStillReadsTheSameText() throws Exception {
    String key = "k\u001b[2J\u009b31m";
    Event e =
        f.deadLetter(
            "billing",
            "OrderPlaced",
            key,
            ev -> new dev.courier.PoisonEventException("bad\u001b]0;owned\u0007 order\roverwritten \u202eevil"));
    long id = f.idOf(e);

    CliRun show = run("dlq", "show", String.valueOf(id));
    CliRun list = run("dlq", "list");
    CliRun groups = run("dlq", "groups");
    CliRun raw = run("dlq", "show", "--raw", String.valueOf(id));
    CliRun json = run("dlq", "show", "--json", String.valueOf(id));

    for (CliRun r : List.of(show, list, groups, json)) {
      assertThat(r.exitCode()).as(r.toString()).isZero();
      assertThat(r.out()).as(r.toString()).doesNotContain("\u001b", "\u009b", "\u0007", "\r", "\u202e");
    }
    assertThat(show.out()).contains("k\\u001b[2J\\u009b31m").contains("bad\\u001b]0;owned\\u0007 order\\u000doverwritten");
    assertThat(list.out()).contains("k\\u001b[2J");
    assertThat(raw.out()).as("--raw prints what is stored").contains(key).contains("\u0007");
    JsonNode js = JSON.readTree(json.out());
    assertThat(js.get("key").asText()).as("JSON reads the escapes as the same characters").isEqualTo(key);
    assertThat(js.get("errorMessage").asText()).contains("\u001b]0;owned\u0007");
  }

  @Test
  void consumerPauseStatusAndResume_doTheirJob_withAReason_andAreAudited() throws Exception {
    CliRun none = run("consumer", "status");
    CliRun noReason = run("consumer", "pause", "billing");
    CliRun pause = run("consumer", "pause", "billing", "--reason", "incident 7");
    CliRun again = run("consumer", "pause", "billing", "--reason", "twice");
    CliRun status = run("consumer", "status");
    JsonNode js = json(run("consumer", "status", "--json"));
    CliRun resume = run("consumer", "resume", "billing", "--reason", "fixed");
    CliRun notPaused = run("consumer", "resume", "billing", "--reason", "fixed");

    assertThat(none.out()).contains("no consumer is paused");
    assertThat(noReason.exitCode()).isEqualTo(2);
    assertThat(pause.exitCode()).as(pause.toString()).isZero();
    assertThat(pause.out()).contains("consumer billing paused");
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(status.out()).contains("billing", "carol", "incident 7");
    assertThat(js.at("/paused/0/consumer").asText()).isEqualTo("billing");
    assertThat(resume.out()).contains("consumer billing resumed");
    assertThat(notPaused.exitCode()).isEqualTo(1);
    assertThat(f.count("SELECT count(*) FROM courier_audit WHERE action IN ('consumer.pause', 'consumer.resume')"))
        .isEqualTo(2);
  }

  @Test
  void dlqDiscardAndGroups_areBounded_andSayWhenTheLimitWasReached() throws Exception {
    for (int i = 0; i < 3; i++) {
      f.poison("billing", "k" + i);
    }

    CliRun first = run("dlq", "discard", "--all", "--limit", "2", "--reason", "noise");
    CliRun second = run("dlq", "discard", "--all", "--limit", "2", "--reason", "noise");
    CliRun tooMany = run("dlq", "discard", "--all", "--limit", "10001", "--reason", "noise");
    CliRun groups = run("dlq", "groups", "--limit", "0");
    CliRun audit = run("audit", "--limit", "1001");

    assertThat(first.exitCode()).as(first.toString()).isZero();
    assertThat(first.out()).contains("discarded 2").contains("the limit of 2 was reached");
    assertThat(second.out()).contains("discarded 1").doesNotContain("limit");
    assertThat(tooMany.exitCode()).isEqualTo(2);
    assertThat(tooMany.err()).contains("limit").contains("10000");
    assertThat(groups.exitCode()).isEqualTo(2);
    assertThat(audit.exitCode()).isEqualTo(2);
    assertThat(audit.err()).contains("between 1 and 1000");
  }

  @Test
  void dlqReplay_dryRunChangesNothing_thenReplaysOnce_evenWhenResubmitted() throws Exception {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);
    String before = f.snapshot();

    CliRun dry = run("dlq", "replay", "--consumer", "billing", "--dry-run");
    assertThat(dry.exitCode()).as(dry.toString()).isZero();
    assertThat(dry.out()).contains("would replay 1").contains(String.valueOf(id));
    assertThat(f.snapshot()).isEqualTo(before);

    CliRun replay = run("dlq", "replay", String.valueOf(id), "--replay-id", "inc-42", "--reason", "fixed", "--rate", "10", "--json");
    CliRun again = run("dlq", "replay", String.valueOf(id), "--replay-id", "inc-42");

    assertThat(replay.exitCode()).as(replay.toString()).isZero();
    JsonNode r = json(replay);
    assertThat(r.get("replayId").asText()).isEqualTo("inc-42");
    assertThat(r.get("replayed").asInt()).isEqualTo(1);
    assertThat(r.get("alreadySubmitted").asBoolean()).isFalse();
    assertThat(again.exitCode()).as(again.toString()).isZero();
    assertThat(again.out()).contains("submitted before");
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE event_id = ?", e.id())).isEqualTo(1);
    assertThat(f.rows("SELECT operator, action, reason, replay_id FROM courier_audit").toString())
        .isEqualTo("[{operator=carol, action=dlq.replay, reason=fixed, replay_id=inc-42}]");
    assertThat(run("dlq", "replay", "--consumer", "billing").exitCode()).as("nothing parked any more").isEqualTo(1);
  }

  @Test
  void dlqReplayAndDiscard_withBadInput_changeNothing() {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);
    String before = f.snapshot();

    CliRun unknownId = run("dlq", "replay", String.valueOf(id), "777777");
    CliRun noSelection = run("dlq", "replay");
    CliRun badRange = run("dlq", "replay", "--from", "1h", "--to", "2h");
    CliRun badReplayId = run("dlq", "replay", String.valueOf(id), "--replay-id", "no spaces please");
    CliRun discardNoReason = run("dlq", "discard", String.valueOf(id));
    CliRun discardUnknown = run("dlq", "discard", "777777", "--reason", "x");
    CliRun idsAndFilter = run("dlq", "discard", String.valueOf(id), "--consumer", "billing", "--reason", "x");

    assertThat(unknownId.exitCode()).as(unknownId.toString()).isEqualTo(1);
    assertThat(unknownId.err()).contains("777777");
    assertThat(noSelection.exitCode()).isEqualTo(2);
    assertThat(noSelection.err()).contains("all");
    assertThat(badRange.exitCode()).isEqualTo(2);
    assertThat(badReplayId.exitCode()).isEqualTo(2);
    assertThat(discardNoReason.exitCode()).isEqualTo(2);
    assertThat(discardNoReason.err()).contains("--reason");
    assertThat(discardUnknown.exitCode()).isEqualTo(1);
    assertThat(idsAndFilter.exitCode()).isEqualTo(2);
    assertThat(f.snapshot()).isEqualTo(before);
  }

  @Test
  void dlqDiscard_withAReason_marksThemDiscarded_andAuditsIt() throws Exception {
    f.poison("billing", "k1");
    f.poison("billing", "k2");

    CliRun discard = run("dlq", "discard", "--consumer", "billing", "--reason", "test orders", "--json");

    assertThat(discard.exitCode()).as(discard.toString()).isZero();
    assertThat(json(discard).get("discarded").asInt()).isEqualTo(2);
    assertThat(f.count("SELECT count(*) FROM courier_dead_letters WHERE status = 'DISCARDED' AND resolution = 'test orders'")).isEqualTo(2);
    assertThat(run("dlq", "list").exitCode()).as("no DEAD ones left").isEqualTo(1);
    assertThat(run("dlq", "list", "--status", "DISCARDED").out()).contains("DISCARDED");
    CliRun audit = run("audit");
    assertThat(audit.out()).contains("dlq.discard").contains("carol").contains("test orders");
  }

  @Test
  void dlqGroups_groupsByFingerprint_andAGroupCanBeReplayed() throws Exception {
    for (int i = 0; i < 3; i++) {
      int n = i;
      f.deadLetter("billing", "OrderPlaced", "k" + i, e -> notFound(n));
    }
    f.deadLetter("billing", "OrderPlaced", "x", e -> new IllegalArgumentException("unknown currency"));

    CliRun table = run("dlq", "groups");
    JsonNode groups = json(run("dlq", "groups", "--json")).get("groups");

    assertThat(table.exitCode()).as(table.toString()).isZero();
    assertThat(table.out()).contains("order <n> not found");
    assertThat(groups).hasSize(2);
    JsonNode big = groups.get(0);
    assertThat(big.get("count").asInt()).isEqualTo(3);
    assertThat(big.get("exceptionType").asText()).isEqualTo("java.lang.IllegalStateException");
    assertThat(big.get("topFrame").asText()).endsWith("AdminCliTest.notFound");
    assertThat(big.get("consumers").get(0).asText()).isEqualTo("billing");

    CliRun replay = run("dlq", "replay", "--fingerprint", big.get("fingerprint").asText(), "--json");
    assertThat(json(replay).get("replayed").asInt()).isEqualTo(3);
    assertThat(json(run("dlq", "groups", "--json")).get("groups")).hasSize(1);
  }

  private static RuntimeException notFound(int order) {
    return new IllegalStateException("order " + (1000 + order) + " not found");
  }

  // --- history replay -----------------------------------------------------------------------

  @Test
  void replay_publishesHistoryAgainOnce_andRefusesBadInput() throws Exception {
    Instant old = Instant.now().minus(java.time.Duration.ofDays(3));
    for (int i = 0; i < 2; i++) {
      f.count("INSERT INTO courier_outbox (event_id, event_type, destination, event_key, payload, created_at,"
          + " available_at, status, published_at) VALUES (?, 'OrderPlaced', 'orders', 'k', ''::bytea, ?, ?, 'PUBLISHED', ?)"
          + " RETURNING seq", UUID.randomUUID(), Timestamp.from(old.plusSeconds(i)), Timestamp.from(old), Timestamp.from(old));
    }
    String before = f.snapshot();

    CliRun dry = run("replay", "--type", "OrderPlaced", "--dry-run");
    CliRun noFilter = run("replay");
    CliRun backwards = run("replay", "--from", "1d", "--to", "2d");
    assertThat(dry.exitCode()).as(dry.toString()).isZero();
    assertThat(dry.out()).contains("would replay 2");
    assertThat(noFilter.exitCode()).isEqualTo(2);
    assertThat(backwards.exitCode()).isEqualTo(2);
    assertThat(run("replay", "--type", "Nothing").exitCode()).isEqualTo(1);
    assertThat(f.snapshot()).isEqualTo(before);

    JsonNode r = json(run("replay", "--from", "7d", "--type", "OrderPlaced", "--replay-id", "h-1", "--json"));
    CliRun again = run("replay", "--from", "7d", "--type", "OrderPlaced", "--replay-id", "h-1");

    assertThat(r.get("replayed").asInt()).isEqualTo(2);
    assertThat(r.get("eventIds")).hasSize(2);
    assertThat(again.out()).contains("submitted before");
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).isEqualTo(2);
    assertThat(f.count("SELECT count(*) FROM courier_outbox_archive")).as("history kept").isEqualTo(2);
  }

  @Test
  void replay_toAnotherDestinationForOneConsumer_marksTheRows_andRefusesBadTargetsChangingNothing() throws Exception {
    Instant old = Instant.now().minus(java.time.Duration.ofDays(3));
    UUID id = UUID.randomUUID();
    f.count("INSERT INTO courier_outbox (event_id, event_type, destination, event_key, payload, headers, created_at,"
        + " available_at, status, published_at) VALUES (?, 'OrderPlaced', 'orders', 'k', ''::bytea, '{\"tenant\":\"acme\"}',"
        + " ?, ?, 'PUBLISHED', ?) RETURNING seq", id, Timestamp.from(old), Timestamp.from(old), Timestamp.from(old));
    f.count("INSERT INTO courier_processed_events (consumer, event_id, processed_at)"
        + " VALUES ('billing', gen_random_uuid(), now()) RETURNING 1");
    String before = f.snapshot();

    CliRun badConsumer = run("replay", "--type", "OrderPlaced", "--consumer", "billing team");
    CliRun unknownConsumer = run("replay", "--type", "OrderPlaced", "--consumer", "biling");
    CliRun blankDestination = run("replay", "--type", "OrderPlaced", "--to-destination", " ");
    CliRun noFilter = run("replay", "--consumer", "billing");
    CliRun backwards = run("replay", "--from", "1d", "--to", "2d", "--consumer", "billing");
    assertThat(badConsumer.exitCode()).as(badConsumer.toString()).isEqualTo(2);
    assertThat(badConsumer.err()).contains("consumer").contains("'billing team' is not a valid consumer name");
    assertThat(unknownConsumer.exitCode()).as(unknownConsumer.toString()).isEqualTo(2);
    assertThat(unknownConsumer.err()).contains("no consumer named 'biling'");
    assertThat(blankDestination.exitCode()).as(blankDestination.toString()).isEqualTo(2);
    assertThat(blankDestination.err()).contains("toDestination");
    assertThat(noFilter.exitCode()).isEqualTo(2);
    assertThat(backwards.exitCode()).isEqualTo(2);
    assertThat(f.snapshot()).as("refused replays change nothing").isEqualTo(before);

    JsonNode r = json(run("replay", "--type", "OrderPlaced", "--to-destination", "orders-v2", "--consumer", "billing",
        "--replay-id", "fix-1", "--reason", "handler fixed", "--json"));
    CliRun again = run("replay", "--type", "OrderPlaced", "--to-destination", "orders-v2", "--consumer", "billing",
        "--replay-id", "fix-1");

    assertThat(r.get("replayed").asInt()).isEqualTo(1);
    assertThat(r.get("toDestination").asText()).isEqualTo("orders-v2");
    assertThat(r.get("consumer").asText()).isEqualTo("billing");
    assertThat(again.exitCode()).isZero();
    assertThat(again.out()).contains("submitted before");
    assertThat(f.count("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING' AND event_id = ?"
        + " AND destination = 'orders-v2' AND headers::jsonb = '{\"tenant\":\"acme\",\"courier-replay-id\":\"fix-1\","
        + "\"courier-replay-consumer\":\"billing\"}'::jsonb", id)).isEqualTo(1);
    assertThat(f.count("SELECT count(*) FROM courier_audit WHERE action = 'history.replay' AND replay_id = 'fix-1'"
        + " AND target LIKE '%\"toDestination\":\"orders-v2\"%' AND target LIKE '%\"consumer\":\"billing\"%'"))
        .isEqualTo(1);
  }

  // --- prune --------------------------------------------------------------------------------

  @Test
  void prune_removesWhatIsPastTheHorizons_andDryRunCountsOnly() throws Exception {
    Instant old = Instant.now().minus(java.time.Duration.ofDays(40));
    f.count("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1", UUID.randomUUID(), Timestamp.from(old));
    f.count("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1", UUID.randomUUID(), Timestamp.from(Instant.now()));
    f.count("INSERT INTO courier_outbox (event_id, event_type, destination, payload, created_at, available_at, status,"
        + " published_at) VALUES (?, 'T', 'orders', ''::bytea, ?, ?, 'PUBLISHED', ?) RETURNING seq",
        UUID.randomUUID(), Timestamp.from(old), Timestamp.from(old), Timestamp.from(old));

    f.count("INSERT INTO courier_audit (at, operator, action, target, affected) VALUES (?, 'alice', 'dlq.discard',"
        + " '{}', 1) RETURNING 1", Timestamp.from(Instant.now().minus(java.time.Duration.ofDays(400))));

    JsonNode dry = json(run("prune", "--dry-run", "--json"));
    assertThat(dry.get("ledgerRows").asInt()).isEqualTo(1);
    assertThat(dry.get("auditRows").asInt()).as("the audit trail is kept by default").isZero();
    assertThat(f.count("SELECT count(*) FROM courier_processed_events")).isEqualTo(2);

    CliRun prune = run("prune", "--ledger", "30d", "--published", "7d", "--audit", "365d", "--dead-letters", "30d");
    assertThat(prune.exitCode()).as(prune.toString()).isZero();
    assertThat(prune.out()).contains("pruned 1 ledger row(s), 1 published outbox row(s) (1 archived)")
        .contains("0 resolved dead letter(s), 1 audit entry");
    assertThat(f.count("SELECT count(*) FROM courier_processed_events")).isEqualTo(1);
    assertThat(f.count("SELECT count(*) FROM courier_outbox_archive")).isEqualTo(1);

    CliRun tooShort = run("prune", "--ledger", "5s");
    assertThat(tooShort.exitCode()).as(tooShort.toString()).isEqualTo(2);
    assertThat(tooShort.err()).contains("courier.retention.ledger");
  }

  // --- reachability -------------------------------------------------------------------------

  @Test
  void everyVerb_whenTheDatabaseIsUnreachable_exits3() {
    Map<String, String> down = new java.util.HashMap<>(env);
    down.put("COURIER_DB_URL", "jdbc:postgresql://127.0.0.1:1/test");
    down.put("COURIER_DB_CONNECT_TIMEOUT", "1s");

    for (String[] args : new String[][] {{"outbox", "status"}, {"dlq", "list"}, {"dlq", "replay", "1"}, {"prune"}}) {
      CliRun r = CliRun.of(down, args);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(3);
      assertThat(r.err()).contains("database unreachable");
    }
  }
}
