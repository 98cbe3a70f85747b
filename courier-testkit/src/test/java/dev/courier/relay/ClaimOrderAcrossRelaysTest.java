package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The claim keeps each key's order between two relays, also while one relay's claim has locked a
 * row and not yet committed. That window is a claim's milliseconds between two running relays, but
 * a relay frozen inside its claim transaction (a long GC pause, SIGSTOP in the chaos scenario
 * {@code relay-paused-beyond-lease}) holds it open; before the claim checked its locked candidates
 * again, the other relay claimed the key's next row past the locked one.
 */
class ClaimOrderAcrossRelaysTest {
  private static final Duration LEASE = Duration.ofSeconds(30);

  @RegisterExtension final RelaySchema schema = new RelaySchema("claim_order");

  @Test
  void aRowLockedByAnotherRelaysOpenClaim_holdsBackTheLaterRowsOfItsKey_only() throws Exception {
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("K").payload("1"),
            Event.builder("Step").destination("orders").key("K").payload("2"),
            Event.builder("Step").destination("orders").key("L").payload("1"),
            Event.builder("Step").destination("orders").key("K").payload("3"));
    long firstOfK = seqOf(events.get(0));

    // relay A has claimed K's first row and has not committed: as its claim statement leaves it
    try (Connection relayA = openClaimOf(firstOfK)) {

      List<ClaimedRow> claimedByB = claim("relay-b");

      assertThat(claimedByB)
          .as("K's later rows wait behind the row relay A holds; L is not held up")
          .extracting(r -> r.event().id())
          .containsExactly(events.get(2).id());

      relayA.commit();
    }

    assertThat(claim("relay-b")).as("K's first row is leased to relay A now").isEmpty();

    markPublished(firstOfK);
    assertThat(claim("relay-b"))
        .as("once it is published, K's next rows go out in their order")
        .extracting(r -> r.event().id())
        .containsExactly(events.get(1).id(), events.get(3).id());
  }

  @Test
  void withoutAnotherClaim_everyDueRowIsClaimedInOneBatch_inOrder() throws Exception {
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("K").payload("1"),
            Event.builder("Step").destination("orders").key("L").payload("1"),
            Event.builder("Step").destination("orders").key("K").payload("2"),
            Event.builder("Step").destination("orders").payload("no key"));

    assertThat(claim("relay-b"))
        .extracting(r -> r.event().id())
        .containsExactlyElementsOf(events.stream().map(Event::id).toList());
  }

  @Test
  void aLockedRowInTheMiddleOfAKey_letsTheRowsBeforeItGo_holdsBackTheRowsAfterIt_andRowsWithoutAKeyAreNeverHeld()
      throws Exception {
    List<Event> events =
        append(
            Event.builder("Step").destination("orders").key("K").payload("1"),
            Event.builder("Step").destination("orders").payload("no key 1"),
            Event.builder("Step").destination("orders").key("K").payload("2"),
            Event.builder("Step").destination("orders").payload("no key 2"),
            Event.builder("Step").destination("orders").key("M").payload("1"),
            Event.builder("Step").destination("orders").key("K").payload("3"),
            Event.builder("Step").destination("orders").key("K").payload("4"),
            Event.builder("Step").destination("orders").key("M").payload("2"),
            Event.builder("Step").destination("payments").key("K").payload("1"));
    // M's first row is backing off after a failed attempt (committed)
    try (Connection c = schema.db().getConnection();
        PreparedStatement ps = c.prepareStatement("UPDATE courier_outbox SET available_at = ? WHERE seq = ?")) {
      ps.setTimestamp(1, Timestamp.from(Instant.now().plus(Duration.ofMinutes(5))));
      ps.setLong(2, seqOf(events.get(4)));
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }

    // relay A's claim, not yet committed, holds K's third row
    try (Connection relayA = openClaimOf(seqOf(events.get(5)))) {

      assertThat(claim("relay-b"))
          .as("K's rows before the held one go, the one after waits; M waits behind its backing-off row;"
              + " rows without a key, and the same key on another destination, are not held up")
          .extracting(r -> r.event().id())
          .containsExactly(
              events.get(0).id(), events.get(1).id(), events.get(2).id(), events.get(3).id(), events.get(8).id());

      relayA.rollback();
    }

    assertThat(claim("relay-b"))
        .as("K's first two rows are leased to relay B now, so its later rows still wait")
        .isEmpty();
  }

  /** A connection whose open transaction has leased row {@code seq} to relay A, as A's claim statement leaves it. */
  private Connection openClaimOf(long seq) throws SQLException {
    Connection relayA = schema.db().getConnection();
    relayA.setAutoCommit(false);
    try (PreparedStatement ps =
        relayA.prepareStatement("UPDATE courier_outbox SET available_at = ?, claimed_by = 'relay-a' WHERE seq = ?")) {
      ps.setTimestamp(1, Timestamp.from(Instant.now().plus(LEASE)));
      ps.setLong(2, seq);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    } catch (SQLException | RuntimeException | AssertionError e) {
      relayA.close();
      throw e;
    }
    return relayA;
  }

  private List<ClaimedRow> claim(String relayId) throws SQLException {
    Instant now = Instant.now();
    return schema.store().claim(100, Long.MIN_VALUE, now, now.plus(LEASE), relayId);
  }

  private List<Event> append(Event.Builder... builders) throws SQLException {
    return schema.append(builders);
  }

  private long seqOf(Event e) throws SQLException {
    return schema.seqOf(e);
  }

  private void markPublished(long seq) throws SQLException {
    try (Connection c = schema.db().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "UPDATE courier_outbox SET status = 'PUBLISHED', claimed_by = NULL WHERE seq = ?")) {
      ps.setLong(1, seq);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
  }
}
