package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.deadletter.DeadLetterDetail;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.DeadLetterSummary;
import dev.courier.deadletter.FingerprintGroup;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.deadletter.ReplayResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Listing, showing, replaying, discarding and grouping dead letters, on PostgreSQL. */
class DeadLetterAdminOperationsTest {
  private AdminFixture f;
  private final Attribution alice = new Attribution("alice", "bug 123 fixed");

  @BeforeEach
  void setUp() {
    f = new AdminFixture("dl_admin");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void list_filtersByConsumerTypeKeyAndTime_andPages() {
    f.poison("billing", "k1");
    f.clock.advance(Duration.ofMinutes(1));
    Instant middle = f.clock.instant();
    f.poison("billing", "k2");
    f.poison("shipping", "k1");

    assertThat(f.admin.list(DeadLetterFilter.builder().build(), 1, 10).total()).isEqualTo(3);
    assertThat(f.admin.list(DeadLetterFilter.builder().consumer("billing").build(), 1, 10).items())
        .extracting(DeadLetterSummary::key)
        .containsExactly("k2", "k1");
    assertThat(f.admin.list(DeadLetterFilter.builder().key("k1").build(), 1, 10).total()).isEqualTo(2);
    assertThat(f.admin.list(DeadLetterFilter.builder().type("Nope").build(), 1, 10).total()).isZero();
    assertThat(f.admin.list(DeadLetterFilter.builder().from(middle).build(), 1, 10).total()).isEqualTo(2);
    assertThat(f.admin.list(DeadLetterFilter.builder().to(middle).build(), 1, 10).total()).isEqualTo(1);

    var page2 = f.admin.list(DeadLetterFilter.builder().build(), 2, 2);
    assertThat(page2.items()).hasSize(1);
    assertThat(page2.total()).isEqualTo(3);
  }

  @Test
  void badTimeRangeOrPage_isRefusedWithTheFieldNamed() {
    Instant now = f.clock.instant();
    assertThatThrownBy(() -> DeadLetterFilter.builder().from(now).to(now.minusSeconds(1)).build())
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("from")
        .hasMessageContaining("before");
    assertThatThrownBy(() -> f.admin.list(DeadLetterFilter.builder().build(), 0, 10))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("page:");
    assertThatThrownBy(() -> DeadLetterFilter.builder().fingerprint("DROP TABLE").build())
        .isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void show_returnsPayloadHeadersErrorAndStack_andUnknownIdIsNotFound() {
    Event e = f.poison("billing", "k1");

    DeadLetterDetail d = f.admin.show(f.idOf(e));

    assertThat(new String(d.payload(), StandardCharsets.UTF_8)).isEqualTo("{\"order\":\"k1\"}");
    assertThat(d.headers()).containsEntry("tenant", "acme");
    assertThat(d.summary().errorMessage()).contains("bad order k1");
    assertThat(d.summary().attempts()).isEqualTo(1);
    assertThat(d.summary().status()).isEqualTo(DeadLetterStatus.DEAD);
    assertThat(d.stackTrace()).contains("PoisonEventException");
    assertThat(d.toString()).doesNotContain("k1\"}").doesNotContain("acme");
    assertThatThrownBy(() -> f.admin.show(987654))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("987654");
  }

  @Test
  void replay_putsTheEventBackInTheOutboxWithItsOwnId_marksItReplayed_andAuditsIt() {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);

    ReplayResult r = f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(id)), "fix-123", alice));

    assertThat(r.replayed()).isEqualTo(1);
    assertThat(r.items()).containsExactly(id);
    assertThat(r.alreadySubmitted()).isFalse();
    List<Map<String, Object>> outbox = f.rows("SELECT event_id, status, event_type, destination, event_key FROM courier_outbox");
    assertThat(outbox).singleElement().satisfies(row -> {
      assertThat(row.get("event_id")).isEqualTo(e.id());
      assertThat(row.get("status")).isEqualTo("PENDING");
      assertThat(row.get("event_key")).isEqualTo("k1");
    });
    DeadLetterSummary s = f.admin.show(id).summary();
    assertThat(s.status()).isEqualTo(DeadLetterStatus.REPLAYED);
    assertThat(s.replayId()).isEqualTo("fix-123");
    assertThat(s.resolvedBy()).isEqualTo("alice");
    assertThat(new AuditLog(f.admin.tables()).latest(f.db, 10))
        .singleElement()
        .satisfies(a -> {
          assertThat(a.operator()).isEqualTo("alice");
          assertThat(a.action()).isEqualTo("dlq.replay");
          assertThat(a.reason()).isEqualTo("bug 123 fixed");
          assertThat(a.affected()).isEqualTo(1);
          assertThat(a.replayId()).isEqualTo("fix-123");
          assertThat(a.target()).contains(String.valueOf(id));
        });
  }

  @Test
  void replay_submittedTwiceWithTheSameId_enqueuesOnce() {
    Event e = f.poison("billing", "k1");
    var filter = DeadLetterFilter.builder().consumer("billing").build();

    ReplayResult first = f.admin.replay(ReplayRequest.of(filter, "same", alice));
    f.poison("billing", "k2"); // a new dead letter matching the filter changes nothing
    ReplayResult second = f.admin.replay(ReplayRequest.of(filter, "same", alice));

    assertThat(first.alreadySubmitted()).isFalse();
    assertThat(second.alreadySubmitted()).isTrue();
    assertThat(second.items()).isEqualTo(first.items());
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isEqualTo(1);
    assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE event_id = ?", e.id())).isEqualTo(1);
  }

  @Test
  void replay_twoOperatorsRacingWithTheSameReplayId_enqueueOnce() throws Exception {
    for (int i = 0; i < 20; i++) {
      f.poison("billing", "k" + i);
    }
    var filter = DeadLetterFilter.builder().consumer("billing").build();
    CyclicBarrier start = new CyclicBarrier(2);
    Callable<ReplayResult> submit =
        () -> {
          start.await();
          return f.admin.replay(ReplayRequest.of(filter, "incident-7", alice));
        };
    ReplayResult a;
    ReplayResult b;
    try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
      Future<ReplayResult> fa = pool.submit(submit);
      Future<ReplayResult> fb = pool.submit(submit);
      a = fa.get();
      b = fb.get();
    }

    assertThat(List.of(a.alreadySubmitted(), b.alreadySubmitted())).containsExactlyInAnyOrder(true, false);
    assertThat(a.items()).hasSize(20).isEqualTo(b.items());
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isEqualTo(20);
    assertThat(f.single("SELECT count(*) FROM courier_replays")).isEqualTo(1);
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'dlq.replay'")).isEqualTo(1);
  }

  @Test
  void replay_twoOperatorsRacingWithDifferentReplayIds_stillEnqueueEachDeadLetterOnce() throws Exception {
    for (int i = 0; i < 20; i++) {
      f.poison("billing", "k" + i);
    }
    var filter = DeadLetterFilter.builder().consumer("billing").build();
    CyclicBarrier start = new CyclicBarrier(2);
    try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
      Future<ReplayResult> fa = pool.submit(() -> {
        start.await();
        return f.admin.replay(ReplayRequest.of(filter, null, alice));
      });
      Future<ReplayResult> fb = pool.submit(() -> {
        start.await();
        return f.admin.replay(ReplayRequest.of(filter, null, alice));
      });
      assertThat(fa.get().replayed() + fb.get().replayed()).isEqualTo(20);
    }
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isEqualTo(20);
  }

  @Test
  void replay_dryRun_listsWhatWouldBeReplayed_andChangesNothing() {
    Event e = f.poison("billing", "k1");
    String before = f.snapshot("courier_dead_letters");

    ReplayResult r =
        f.admin.replay(new ReplayRequest(DeadLetterFilter.builder().consumer("billing").build(), null, true, 0, 100, alice));

    assertThat(r.dryRun()).isTrue();
    assertThat(r.items()).containsExactly(f.idOf(e));
    assertThat(f.snapshot("courier_dead_letters")).isEqualTo(before);
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isZero();
    assertThat(f.single("SELECT count(*) FROM courier_audit")).isZero();
  }

  @Test
  void replay_withARate_spreadsTheEventsOut() {
    for (int i = 0; i < 5; i++) {
      f.poison("billing", "k" + i);
    }
    f.admin.replay(new ReplayRequest(DeadLetterFilter.builder().all().build(), "slow", false, 2, 100, alice));

    List<Map<String, Object>> rows = f.rows("SELECT available_at FROM courier_outbox ORDER BY available_at");
    var first = ((java.sql.Timestamp) rows.getFirst().get("available_at")).toInstant();
    var last = ((java.sql.Timestamp) rows.getLast().get("available_at")).toInstant();
    assertThat(Duration.between(first, last)).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void replayAndDiscard_withAnUnknownId_changeNothing() {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);
    String before = f.snapshot("courier_dead_letters");

    assertThatThrownBy(() -> f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(id, 424242L)), null, alice)))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("424242");
    assertThatThrownBy(() -> f.admin.discard(DeadLetterFilter.ids(List.of(id, 424242L)), alice))
        .isInstanceOf(NotFoundException.class);

    assertThat(f.snapshot("courier_dead_letters")).isEqualTo(before);
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isZero();
    assertThat(f.single("SELECT count(*) FROM courier_audit")).isZero();
  }

  @Test
  void mutations_withoutASelection_areRefused() {
    f.poison("billing", "k1");
    assertThatThrownBy(() -> f.admin.replay(ReplayRequest.of(DeadLetterFilter.builder().build(), null, alice)))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("all");
    assertThatThrownBy(() -> f.admin.discard(DeadLetterFilter.builder().build(), alice))
        .isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void discard_needsAReason_keepsTheRow_andAuditsIt() {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);

    assertThatThrownBy(() -> f.admin.discard(DeadLetterFilter.ids(List.of(id)), Attribution.of("bob")))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("reason:");
    List<Long> discarded = f.admin.discard(DeadLetterFilter.ids(List.of(id)), new Attribution("bob", "test order"));

    assertThat(discarded).containsExactly(id);
    DeadLetterSummary s = f.admin.show(id).summary();
    assertThat(s.status()).isEqualTo(DeadLetterStatus.DISCARDED);
    assertThat(s.resolution()).isEqualTo("test order");
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'dlq.discard' AND operator = 'bob'")).isEqualTo(1);
    assertThat(f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(id)), null, alice)).replayed())
        .as("a discarded dead letter is not replayed").isZero();
  }

  @Test
  void discard_takesAtMostItsLimit_lowestIdsFirst_andTheNextCallTakesTheRest() {
    for (int i = 0; i < 5; i++) {
      f.poison("billing", "k" + i);
    }
    DeadLetterFilter all = DeadLetterFilter.builder().all().build();
    Attribution bob = new Attribution("bob", "noise");

    List<Long> first = f.admin.discard(all, bob, 3);
    List<Long> second = f.admin.discard(all, bob, 3);

    assertThat(first).hasSize(3);
    assertThat(second).hasSize(2);
    assertThat(second.getFirst()).isGreaterThan(first.getLast());
    assertThat(f.admin.discard(all, bob, 3)).isEmpty();
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'dlq.discard'")).isEqualTo(3);
    assertThatThrownBy(() -> f.admin.discard(all, bob, 0)).isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("limit:");
    assertThatThrownBy(() -> f.admin.discard(all, bob, 10_001)).isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void groups_returnTheLargestFirst_upToTheirLimit() {
    f.poison("billing", "k1");
    f.poison("billing", "k2");
    f.deadLetter("billing", "OrderPlaced", "k3", e -> new IllegalStateException("another failure"));

    List<FingerprintGroup> one = f.admin.groups(1);

    assertThat(one).hasSize(1);
    assertThat(one.getFirst().count()).isEqualTo(2);
    assertThat(f.admin.groups(10)).hasSize(2);
    assertThatThrownBy(() -> f.admin.groups(0)).isInstanceOf(InvalidRequestException.class);
    assertThatThrownBy(() -> f.admin.groups(1_001)).isInstanceOf(InvalidRequestException.class);
  }

  @Test
  void anOversizedMessage_keepsABoundedPrefix_withItsFullSizeAndHash_andIsNotReplayed() throws Exception {
    byte[] huge = new byte[3 * 1024 * 1024 + 7];
    for (int i = 0; i < huge.length; i++) {
      huge[i] = (byte) ('a' + i % 26);
    }
    java.util.UUID id = java.util.UUID.randomUUID();
    f.consumer("billing", (event, c) -> {})
        .rejectMalformed(
            id,
            "orders-0@9",
            huge,
            Map.of("courier-event-id", id.toString(), "courier-event-type", "OrderPlaced"),
            dev.courier.deadletter.DeadLetterReason.OVERSIZED,
            new dev.courier.InvalidEventException("too large", id, "orders"));
    long dl = f.single("SELECT id FROM courier_dead_letters WHERE event_id = ?", id);

    DeadLetterDetail d = f.admin.show(dl);

    assertThat(d.payload()).hasSize(dev.courier.deadletter.DeadLetterStore.OVERSIZED_PREFIX_BYTES);
    assertThat(d.payload()).isEqualTo(java.util.Arrays.copyOf(huge, d.payload().length));
    assertThat(d.payloadSize()).isEqualTo(huge.length);
    assertThat(d.payloadTruncated()).isTrue();
    assertThat(d.payloadSha256())
        .isEqualTo(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(huge)));
    assertThat(f.single("SELECT octet_length(payload) FROM courier_dead_letters WHERE id = ?", dl))
        .as("the database holds the prefix only")
        .isEqualTo(dev.courier.deadletter.DeadLetterStore.OVERSIZED_PREFIX_BYTES);

    ReplayResult r = f.admin.replay(new ReplayRequest(DeadLetterFilter.ids(List.of(dl)), null, false, 0, 10, alice));

    assertThat(r.replayed()).isZero();
    assertThat(r.skipped()).singleElement().satisfies(s -> assertThat(s.why()).contains("cannot be replayed").contains(String.valueOf(huge.length)));
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isZero();
  }

  @Test
  void anOrdinaryDeadLetter_keepsItsWholePayload_withItsSizeAndHash() {
    Event e = f.poison("billing", "k1");

    DeadLetterDetail d = f.admin.show(f.idOf(e));

    assertThat(d.payloadTruncated()).isFalse();
    assertThat(d.payloadSize()).isEqualTo(e.payload().length);
    assertThat(d.payloadSha256()).hasSize(64);
  }

  @Test
  void aReplayRate_isZeroOrAtLeastOnePerSecond() {
    DeadLetterFilter all = DeadLetterFilter.builder().all().build();

    assertThatThrownBy(() -> new ReplayRequest(all, null, false, 0.01, 10, alice))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("rate:");
    assertThatThrownBy(() -> new ReplayRequest(all, null, false, Double.NaN, 10, alice))
        .isInstanceOf(InvalidRequestException.class);
    assertThat(new ReplayRequest(all, null, false, 0, 10, alice).ratePerSecond()).isZero();
    assertThat(new ReplayRequest(all, null, false, 1, 10, alice).ratePerSecond()).isEqualTo(1);
  }

  @Test
  void fingerprints_groupTheSameFailureWhateverTheNumbersAndIds_andAGroupCanBeReplayed() {
    for (int i = 0; i < 3; i++) {
      int lines = 40 + i;
      f.deadLetter("billing", "OrderPlaced", "k" + i, e -> tooManyLines(e, lines));
    }
    f.deadLetter("shipping", "OrderPlaced", "k9", e -> tooManyLines(e, 7));
    f.deadLetter("billing", "OrderPlaced", "k5", e -> new IllegalArgumentException("no such currency: XYZ"));

    List<FingerprintGroup> groups = f.admin.groups();

    assertThat(groups).hasSize(2);
    FingerprintGroup big = groups.getFirst();
    assertThat(big.count()).isEqualTo(4);
    assertThat(big.exceptionType()).isEqualTo("java.lang.IllegalStateException");
    assertThat(big.messageShape()).isEqualTo("order <uuid> has <n> lines");
    assertThat(big.topFrame()).endsWith("DeadLetterAdminOperationsTest.tooManyLines");
    assertThat(big.consumers()).containsExactly("billing", "shipping");
    assertThat(groups.get(1).count()).isEqualTo(1);

    ReplayResult r =
        f.admin.replay(ReplayRequest.of(DeadLetterFilter.builder().fingerprint(big.fingerprint()).build(), null, alice));
    assertThat(r.replayed()).isEqualTo(4);
    assertThat(f.admin.groups()).singleElement().extracting(FingerprintGroup::count).isEqualTo(1L);
    assertThat(f.admin.list(DeadLetterFilter.builder().fingerprint(big.fingerprint()).build(), 1, 10).items())
        .allSatisfy(s -> assertThat(s.status()).isEqualTo(DeadLetterStatus.REPLAYED));
  }

  @Test
  void fingerprint_isFilledInForRowsWrittenWithoutOne() {
    Event e = f.poison("billing", "k1");
    String stored = (String) f.rows("SELECT fingerprint FROM courier_dead_letters").getFirst().get("fingerprint");
    f.rows("UPDATE courier_dead_letters SET fingerprint = NULL RETURNING id");

    assertThat(f.admin.show(f.idOf(e)).summary().fingerprint()).isEqualTo(stored).hasSize(16);
  }

  private static RuntimeException tooManyLines(Event e, int lines) {
    return new IllegalStateException("order " + e.id() + " has " + lines + " lines");
  }
}
