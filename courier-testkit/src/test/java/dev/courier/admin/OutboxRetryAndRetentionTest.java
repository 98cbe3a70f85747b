package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.jdbc.CourierTables;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxSelection;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Putting dead outbox rows back, and pruning the ledger, the outbox and the archive, on PostgreSQL. */
class OutboxRetryAndRetentionTest {
  private AdminFixture f;
  private OutboxAdmin outbox;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("ob_admin");
    outbox = new OutboxAdmin(f.db, CourierTables.DEFAULT, f.clock, Duration.ZERO);
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private long row(String destination, String status, Instant at) {
    return f.single(
        "INSERT INTO courier_outbox (event_id, event_type, destination, payload, created_at, available_at,"
            + " status, attempts, dead_at, published_at) VALUES (?, 'T', ?, ''::bytea, ?, ?, ?, 10, ?, ?) RETURNING seq",
        UUID.randomUUID(), destination, Timestamp.from(at), Timestamp.from(at), status,
        status.equals("DEAD") ? Timestamp.from(at) : null,
        status.equals("PUBLISHED") ? Timestamp.from(at) : null);
  }

  @Test
  void retryDead_byIdOrDestination_putsRowsBackToPending_andAuditsIt() {
    Instant now = f.clock.instant();
    long a = row("orders", "DEAD", now);
    long b = row("orders", "DEAD", now);
    long c = row("payments", "DEAD", now);

    assertThat(outbox.status().dead()).isEqualTo(3);
    assertThat(outbox.dead(null, 10)).extracting(r -> r.seq()).containsExactly(a, b, c);
    assertThat(outbox.retryDead(OutboxSelection.ids(List.of(a)), Attribution.of("alice"))).isEqualTo(1);
    assertThat(outbox.retryDead(OutboxSelection.destination("orders"), Attribution.of("alice"))).isEqualTo(1);

    assertThat(f.rows("SELECT seq, status, attempts FROM courier_outbox ORDER BY seq").toString())
        .isEqualTo("[{seq=" + a + ", status=PENDING, attempts=0}, {seq=" + b + ", status=PENDING, attempts=0}, {seq=" + c + ", status=DEAD, attempts=10}]");
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'outbox.retry'")).isEqualTo(2);
  }

  @Test
  void retryDead_withAnUnknownId_changesNothing() {
    long a = row("orders", "DEAD", f.clock.instant());
    String before = f.snapshot("courier_outbox");

    assertThatThrownBy(() -> outbox.retryDead(OutboxSelection.ids(List.of(a, 999_999L)), Attribution.of("alice")))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("999999");
    assertThat(f.snapshot("courier_outbox")).isEqualTo(before);
    assertThat(f.single("SELECT count(*) FROM courier_audit")).isZero();
  }

  @Test
  void prune_removesOnlyWhatIsPastEachHorizon_archivingPublishedRows() {
    Instant now = f.clock.instant();
    Instant old = now.minus(Duration.ofDays(40));
    row("orders", "PUBLISHED", old);
    long recent = row("orders", "PUBLISHED", now.minus(Duration.ofHours(1)));
    row("orders", "PENDING", old);
    row("orders", "DEAD", old);
    f.single("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1", UUID.randomUUID(), Timestamp.from(old));
    f.single("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1", UUID.randomUUID(), Timestamp.from(now));
    Retention retention = new Retention(f.db, CourierTables.DEFAULT, f.clock);
    Retention.Policy policy = new Retention.Policy(Duration.ofDays(30), Duration.ofDays(7), Duration.ofDays(90), true);

    Retention.Result dry = retention.prune(policy, true, Attribution.of("cron"));
    assertThat(dry).isEqualTo(new Retention.Result(1, 1, 1, 0, true));
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isEqualTo(4);

    Retention.Result done = retention.prune(policy, false, Attribution.of("cron"));

    assertThat(done).isEqualTo(new Retention.Result(1, 1, 1, 0, false));
    assertThat(f.single("SELECT count(*) FROM courier_processed_events")).isEqualTo(1);
    assertThat(f.rows("SELECT status FROM courier_outbox ORDER BY seq").toString())
        .isEqualTo("[{status=PUBLISHED}, {status=PENDING}, {status=DEAD}]");
    assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE seq = ?", recent)).isEqualTo(1);
    assertThat(f.single("SELECT count(*) FROM courier_outbox_archive")).isEqualTo(1);
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'prune' AND operator = 'cron'")).isEqualTo(1);

    f.clock.advance(Duration.ofDays(60));
    assertThat(retention.prune(new Retention.Policy(null, null, Duration.ofDays(90), true), false, Attribution.of("cron")).archiveRows())
        .isEqualTo(1);
    assertThat(f.single("SELECT count(*) FROM courier_outbox_archive")).isZero();
  }

  @Test
  void prune_removesResolvedDeadLettersAndOldAuditEntries_pastTheirHorizons_only() {
    Instant now = f.clock.instant();
    Instant old = now.minus(Duration.ofDays(40));
    long replayedLongAgo = deadLetter("REPLAYED", old);
    long discardedLongAgo = deadLetter("DISCARDED", old);
    long replayedRecently = deadLetter("REPLAYED", now.minus(Duration.ofDays(1)));
    long deadLongAgo = deadLetter("DEAD", null);
    long parkedLongAgo = deadLetter("PARKED", null);
    f.single("INSERT INTO courier_audit (at, operator, action, target, affected) VALUES (?, 'alice', 'dlq.discard',"
        + " '{}', 1) RETURNING 1", Timestamp.from(now.minus(Duration.ofDays(400))));
    f.single("INSERT INTO courier_audit (at, operator, action, target, affected) VALUES (?, 'bob', 'dlq.replay',"
        + " '{}', 1) RETURNING 1", Timestamp.from(now.minus(Duration.ofDays(2))));
    Retention retention = new Retention(f.db, CourierTables.DEFAULT, f.clock);
    Retention.Policy policy = new Retention.Policy(null, null, null, true, Duration.ofDays(30), Duration.ofDays(365));

    assertThat(retention.prune(policy, true, Attribution.of("cron")))
        .isEqualTo(new Retention.Result(0, 0, 0, 0, 2, 1, true));
    assertThat(f.single("SELECT count(*) FROM courier_dead_letters")).as("a dry run changes nothing").isEqualTo(5);

    assertThat(retention.prune(policy, false, Attribution.of("cron")))
        .isEqualTo(new Retention.Result(0, 0, 0, 0, 2, 1, false));
    assertThat(f.rows("SELECT id FROM courier_dead_letters ORDER BY id").stream().map(r -> r.get("id")).toList())
        .as("dead and parked letters stay whatever their age; resolved ones stay inside the horizon")
        .containsExactly(replayedRecently, deadLongAgo, parkedLongAgo);
    assertThat(f.single("SELECT count(*) FROM courier_dead_letters WHERE id IN (?, ?)", replayedLongAgo, discardedLongAgo))
        .isZero();
    assertThat(f.rows("SELECT operator FROM courier_audit ORDER BY id").stream().map(r -> r.get("operator")).toList())
        .as("the old entry went; the prune recorded itself")
        .containsExactly("bob", "cron");
  }

  private long deadLetter(String status, Instant resolvedAt) {
    return f.single("INSERT INTO courier_dead_letters (consumer, dedupe_key, event_id, event_type, destination,"
        + " source, payload, headers, reason, error_class, error_message, attempts, first_failed_at, last_failed_at,"
        + " status, resolved_at) VALUES ('billing', ?, ?, 'T', 'orders', 'orders@1', ''::bytea, '{}', 'POISON',"
        + " 'E', 'm', 1, ?, ?, ?, ?) RETURNING id",
        UUID.randomUUID().toString(), UUID.randomUUID(), Timestamp.from(f.clock.instant()),
        Timestamp.from(f.clock.instant()), status, resolvedAt == null ? null : Timestamp.from(resolvedAt));
  }

  @Test
  void retentionHorizon_belowOneMinute_isRefused() {
    assertThatThrownBy(() -> new Retention.Policy(Duration.ofSeconds(5), null, null, true))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("ledger:");
  }
}
