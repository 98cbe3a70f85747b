package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link Relay.ClaimMode#LOCK} at the level of its SQL: rows held by one relay's open claim are
 * neither claimed by another relay nor let a later row of their key pass; ending the claim writes
 * the outcome of each row, or nothing at all; a claim left idle is ended by the database.
 */
class LockedClaimTest {
  private static final Duration HOLD = Duration.ofSeconds(30);

  @RegisterExtension final RelaySchema schema = new RelaySchema("locked_claim");

  @Test
  void rowsHeldByOneRelaysClaim_areSkippedByAnother_andHoldBackTheLaterRowsOfTheirKeyOnly()
      throws Exception {
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("K").payload("1"),
            Event.builder("Step").destination("orders").key("L").payload("1"),
            Event.builder("Step").destination("orders").key("K").payload("2"),
            Event.builder("Step").destination("orders").key("M").payload("1"));

    OutboxStore.HeldBatch a = schema.store().claimLocked(2, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(a.rows())).containsExactly(id(events, 0), id(events, 1));
    assertThat(a.rows()).allSatisfy(r -> assertThat(r.attempt()).isEqualTo(1));
    assertThat(row(events.get(0)))
        .as("holding a row writes nothing into it")
        .containsEntry("attempts", 0)
        .containsEntry("claimed_by", null);

    OutboxStore.HeldBatch b = schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(b.rows()))
        .as("K's second row waits behind K's first, held by the other claim; M is not held up")
        .containsExactly(id(events, 3));

    schema.store().finish(a, List.of(a.rows().get(0).seq(), a.rows().get(1).seq()), List.of(), Instant.now());
    schema.store().finish(b, List.of(b.rows().get(0).seq()), List.of(), Instant.now());

    OutboxStore.HeldBatch c = schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(c.rows())).containsExactly(id(events, 2));
    schema.store().abandon(c);
    assertThat(row(events.get(0)))
        .containsEntry("status", "PUBLISHED")
        .containsEntry("attempts", 1);
  }

  @Test
  void finishingABatch_recordsEachRowsOutcome_andAnAbandonedBatchIsPendingAgainUntouched()
      throws Exception {
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("A").payload("confirmed"),
            Event.builder("Step").destination("orders").key("B").payload("retried"),
            Event.builder("Step").destination("orders").key("C").payload("dead"),
            Event.builder("Step").destination("orders").key("D").payload("not attempted"));
    Instant now = Instant.now();
    OutboxStore.HeldBatch batch = schema.store().claimLocked(10, Long.MIN_VALUE, now, HOLD);
    List<ClaimedRow> rows = batch.rows();
    assertThat(rows).hasSize(4);

    schema.store().finish(
        batch,
        List.of(rows.get(0).seq()),
        List.of(
            new OutboxStore.Failure(rows.get(1).seq(), false, now.plusSeconds(60), 1, "broker said no"),
            new OutboxStore.Failure(rows.get(2).seq(), true, now, 1, "record too large")),
        now);

    assertThat(row(events.get(0))).containsEntry("status", "PUBLISHED").containsEntry("attempts", 1);
    assertThat(row(events.get(1)))
        .containsEntry("status", "PENDING")
        .containsEntry("attempts", 1)
        .containsEntry("last_error", "broker said no");
    assertThat(row(events.get(2)))
        .containsEntry("status", "DEAD")
        .containsEntry("attempts", 1)
        .containsEntry("last_error", "record too large");
    assertThat(row(events.get(3)))
        .as("a row the batch did not attempt is pending as before")
        .containsEntry("status", "PENDING")
        .containsEntry("attempts", 0);

    OutboxStore.HeldBatch again = schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(again.rows()))
        .as("the retried row is backing off; the untouched one is claimable at once")
        .containsExactly(id(events, 3));
    schema.store().abandon(again);
    OutboxStore.HeldBatch last = schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(last.rows()))
        .as("abandoning gives the row back at once, its attempt not counted")
        .containsExactly(id(events, 3));
    schema.store().abandon(last);
    assertThat(row(events.get(3))).containsEntry("attempts", 0);
  }

  @Test
  void aStoreThatKeepsNoHistory_deletesTheConfirmedRows_andRecordsTheFailedOnes() throws Exception {
    OutboxStore deleting = schema.store(true);
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("A").payload("confirmed"),
            Event.builder("Step").destination("orders").key("B").payload("retried"),
            Event.builder("Step").destination("orders").key("C").payload("confirmed by lease"));
    Instant now = Instant.now();
    OutboxStore.HeldBatch batch = deleting.claimLocked(2, Long.MIN_VALUE, now, HOLD);
    deleting.finish(
        batch,
        List.of(batch.rows().get(0).seq()),
        List.of(new OutboxStore.Failure(batch.rows().get(1).seq(), false, now.plusSeconds(60), 1, "no")),
        now);
    List<ClaimedRow> leased = deleting.claim(10, Long.MIN_VALUE, now, now.plus(HOLD), "relay-a");
    assertThat(ids(leased)).containsExactly(id(events, 2));
    deleting.markPublished(List.of(leased.getFirst().seq()), now);

    assertThat(exists(events.get(0))).isFalse();
    assertThat(exists(events.get(2))).isFalse();
    assertThat(row(events.get(1))).containsEntry("status", "PENDING").containsEntry("last_error", "no");
  }

  @Test
  void aClaimLeftIdleLongerThanItsHoldLimit_isEndedByTheDatabase_andItsRowsAreClaimableAgain()
      throws Exception {
    List<Event> events = append(Event.builder("Step").destination("orders").key("K").payload("1"));
    OutboxStore.HeldBatch hung =
        schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), Duration.ofMillis(500));
    assertThat(hung.rows()).hasSize(1);
    assertThat(schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD).rows())
        .as("held by the hung claim")
        .isEmpty();

    Thread.sleep(1_500);

    OutboxStore.HeldBatch next = schema.store().claimLocked(10, Long.MIN_VALUE, Instant.now(), HOLD);
    assertThat(ids(next.rows())).containsExactly(id(events, 0));
    schema.store().finish(next, List.of(next.rows().getFirst().seq()), List.of(), Instant.now());
    assertThatThrownBy(
            () -> schema.store().finish(hung, List.of(hung.rows().getFirst().seq()), List.of(), Instant.now()))
        .as("the hung relay learns its claim is gone when it tries to record it")
        .isInstanceOf(SQLException.class);
    assertThat(row(events.get(0))).containsEntry("status", "PUBLISHED").containsEntry("attempts", 1);
  }

  private static List<Object> ids(List<ClaimedRow> rows) {
    return rows.stream().map(r -> (Object) r.event().id()).toList();
  }

  private static Object id(List<Event> events, int i) {
    return events.get(i).id();
  }

  private List<Event> append(Event.Builder... builders) throws SQLException {
    return schema.append(builders);
  }

  private boolean exists(Event e) throws SQLException {
    try (Connection c = schema.db().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT 1 FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, e.id());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  private Map<String, Object> row(Event e) throws SQLException {
    try (Connection c = schema.db().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT status, attempts, claimed_by, last_error FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, e.id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        Map<String, Object> row = new java.util.HashMap<>();
        row.put("status", rs.getString(1));
        row.put("attempts", rs.getInt(2));
        row.put("claimed_by", rs.getString(3));
        row.put("last_error", rs.getString(4));
        return row;
      }
    }
  }
}
