package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.outbox.HistoryFilter;
import dev.courier.outbox.HistoryReplay;
import dev.courier.outbox.HistoryReplayResult;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Replaying published history from the outbox and its archive, on PostgreSQL: the events are
 * published again with their own ids, in creation order; a consumer that processed them skips
 * them, a new one applies them.
 */
class HistoryReplayTest {
  private AdminFixture f;
  private final List<Event> broker = new CopyOnWriteArrayList<>();
  private final Attribution alice = new Attribution("alice", "new consumer catches up");

  @BeforeEach
  void setUp() {
    f = new AdminFixture("history");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void publishedAndArchivedEvents_areReplayedInCreationOrder_keepingTheirIds() throws Exception {
    Outbox outbox = Outbox.builder().clock(f.clock).build();
    List<Event> written = new ArrayList<>();
    for (String key : List.of("k1", "k2", "k1")) {
      try (Connection c = f.db.getConnection()) {
        c.setAutoCommit(false);
        written.add(outbox.append(c, Event.builder("OrderPlaced").destination("orders").key(key).payload("{}")));
        c.commit();
      }
      f.clock.advance(Duration.ofSeconds(1));
    }
    IdempotentProcessor old = f.consumer("billing", (e, c) -> {});
    try (Relay relay = relay()) {
      relay.runOnce();
      for (Event e : broker) {
        old.process(e, 1, "first");
      }
      broker.clear();
      // the first event was published long ago and has left the outbox for the archive
      f.rows("UPDATE courier_outbox SET published_at = published_at - interval '30 days' WHERE event_id = ? RETURNING 1",
          written.getFirst().id());
      new Retention(f.db, CourierTables.DEFAULT, f.clock)
          .prune(new Retention.Policy(null, Duration.ofDays(7), null, true), false, Attribution.of("cron"));
      assertThat(f.single("SELECT count(*) FROM courier_outbox_archive")).isEqualTo(1);
      assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE status = 'PUBLISHED'")).isEqualTo(2);

      HistoryReplay history = new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock);
      HistoryFilter orders = new HistoryFilter(null, null, "OrderPlaced", null, null, false);
      HistoryReplayResult dry = history.replay(orders, null, true, 0, 100, alice);
      assertThat(dry.eventIds()).containsExactlyElementsOf(written.stream().map(Event::id).toList());
      assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).isZero();

      HistoryReplayResult r = history.replay(orders, "catch-up-1", false, 0, 100, alice);
      HistoryReplayResult again = history.replay(orders, "catch-up-1", false, 0, 100, alice);

      assertThat(r.replayed()).isEqualTo(3);
      assertThat(again.alreadySubmitted()).isTrue();
      assertThat(again.eventIds()).isEqualTo(r.eventIds());
      assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).isEqualTo(3);

      relay.runOnce();
      assertThat(broker).extracting(Event::id).containsExactlyElementsOf(written.stream().map(Event::id).toList());
      IdempotentProcessor fresh = f.consumer("reporting", (e, c) -> {});
      for (Event e : broker) {
        assertThat(old.process(e, 1, "replay")).isInstanceOf(HandleOutcome.Duplicate.class);
        assertThat(fresh.process(e, 1, "replay")).isInstanceOf(HandleOutcome.Applied.class);
      }
    }
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'history.replay'")).isEqualTo(1);
  }

  @Test
  void aFilterSelectingEverything_orABackwardsRange_isRefused() {
    Instant now = Instant.now();
    assertThatThrownBy(() -> new HistoryFilter(null, null, null, null, null, false))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageContaining("all");
    assertThatThrownBy(() -> new HistoryFilter(now, now.minusSeconds(1), null, null, null, false))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("from:");
  }

  private Relay relay() {
    Transport inJvm =
        new Transport() {
          @Override
          public String name() {
            return "in-jvm";
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            broker.addAll(batch);
            return batch.stream().<PublishResult>map(e -> new PublishResult.Confirmed(e.id(), "in-jvm", false)).toList();
          }
        };
    return Relay.builder(f.db, inJvm).relayId("relay-history").clock(f.clock).build();
  }
}
