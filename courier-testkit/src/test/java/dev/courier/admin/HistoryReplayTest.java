package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.deadletter.ReplayResult;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.HistoryFilter;
import dev.courier.outbox.HistoryReplay;
import dev.courier.outbox.HistoryReplayResult;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.ReplayTarget;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.ReceivedMessage;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
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
  void replayToAnotherDestination_publishesTheSameEventIdsThere_andKeepsTheOriginalHistory() throws Exception {
    List<Event> written = write("orders", "k1", "k2");
    IdempotentProcessor billing = f.consumer("billing", (e, c) -> {});
    try (Relay relay = relay()) {
      relay.runOnce();
      for (Event e : broker) {
        billing.process(e, 1, "first");
      }
      broker.clear();

      HistoryReplayResult r =
          new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock)
              .replay(
                  new HistoryFilter(null, null, null, null, "orders", false),
                  new ReplayTarget("orders-audit", null),
                  "to-audit-1",
                  false,
                  0,
                  100,
                  alice);
      relay.runOnce();

      assertThat(r.replayed()).isEqualTo(2);
      assertThat(r.target().destination()).isEqualTo("orders-audit");
      assertThat(broker).extracting(Event::id).containsExactlyElementsOf(written.stream().map(Event::id).toList());
      assertThat(broker).extracting(Event::destination).containsOnly("orders-audit");
      assertThat(broker).allSatisfy(e -> assertThat(e.headers())
          .as("a replay for every consumer names the replay, and no consumer")
          .containsEntry(ReceivedMessage.REPLAY_ID, "to-audit-1")
          .doesNotContainKey(ReceivedMessage.REPLAY_CONSUMER));
      IdempotentProcessor auditLoader = f.consumer("audit-loader", (e, c) -> {});
      for (Event e : broker) {
        assertThat(auditLoader.process(e, 1, "orders-audit")).isInstanceOf(HandleOutcome.Applied.class);
      }
      broker.clear();

      // the archive still holds the events as first published, so replaying "orders" finds them
      assertThat(f.single("SELECT count(*) FROM courier_outbox_archive WHERE destination = 'orders'")).isEqualTo(2);
      HistoryReplayResult again =
          new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock)
              .replay(new HistoryFilter(null, null, null, null, "orders", false), "orders-again", false, 0, 100, alice);
      relay.runOnce();
      assertThat(again.replayed()).isEqualTo(2);
      assertThat(broker).extracting(Event::destination).containsOnly("orders");
    }
  }

  @Test
  void replayToOneConsumer_isAppliedAgainByItOnly_once_evenWhenDeliveredTwice() throws Exception {
    try (Connection c = f.db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE effects (consumer TEXT NOT NULL, event_id UUID NOT NULL)");
    }
    EventHandler recordEffect = (e, c) -> {
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects VALUES (?, ?)")) {
        ps.setString(1, "billing");
        ps.setObject(2, e.id());
        ps.executeUpdate();
      }
    };
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    IdempotentProcessor billing =
        IdempotentProcessor.builder("billing", f.db, recordEffect).clock(f.clock).meterRegistry(meters).build();
    IdempotentProcessor audit =
        IdempotentProcessor.builder("audit", f.db, (e, c) -> {
              try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects VALUES ('audit', ?)")) {
                ps.setObject(1, e.id());
                ps.executeUpdate();
              }
            })
            .clock(f.clock)
            .meterRegistry(meters)
            .build();
    Event event = write("orders", "k1").getFirst();
    try (Relay relay = relay()) {
      relay.runOnce();
      Event original = broker.removeFirst();
      assertThat(billing.process(original, 1, "orders@0")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(audit.process(original, 1, "orders@0")).isInstanceOf(HandleOutcome.Applied.class);

      HistoryReplay history = new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock);
      HistoryFilter orders = new HistoryFilter(null, null, null, "k1", null, false);
      ReplayTarget toBilling = new ReplayTarget(null, "billing");
      HistoryReplayResult r = history.replay(orders, toBilling, "billing-fix-1", false, 0, 100, alice);
      HistoryReplayResult twice = history.replay(orders, toBilling, "billing-fix-1", false, 0, 100, Attribution.of("bob"));
      assertThat(r.replayed()).isEqualTo(1);
      assertThat(twice.alreadySubmitted()).isTrue();
      assertThat(twice.target()).isEqualTo(toBilling);
      assertThat(f.single("SELECT count(*) FROM courier_outbox WHERE status = 'PENDING'")).as("enqueued once").isEqualTo(1);

      relay.runOnce();
      assertThat(broker).hasSize(1);
      Event replayed = broker.removeFirst();
      assertThat(replayed.id()).isEqualTo(event.id());
      assertThat(replayed.headers())
          .containsEntry(ReceivedMessage.REPLAY_CONSUMER, "billing")
          .containsEntry(ReceivedMessage.REPLAY_ID, "billing-fix-1");

      // the broker delivers the replayed message twice to each consumer of the destination
      assertThat(billing.process(replayed, 1, "orders@1")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(billing.process(replayed, 1, "orders@1 again")).isInstanceOf(HandleOutcome.Duplicate.class);
      assertThat(audit.process(replayed, 1, "orders@1")).isEqualTo(new HandleOutcome.NotAddressed("billing"));
      assertThat(audit.process(replayed, 1, "orders@1 again")).isEqualTo(new HandleOutcome.NotAddressed("billing"));
      // and the original message once more: a duplicate for both, as before the replay
      assertThat(billing.process(original, 2, "orders@0")).isInstanceOf(HandleOutcome.Duplicate.class);
      assertThat(audit.process(original, 2, "orders@0")).isInstanceOf(HandleOutcome.Duplicate.class);

      assertThat(f.single("SELECT count(*) FROM effects WHERE consumer = 'billing' AND event_id = ?", event.id()))
          .as("billing applied the event once more, once")
          .isEqualTo(2);
      assertThat(f.single("SELECT count(*) FROM effects WHERE consumer = 'audit'")).isEqualTo(1);
      assertThat(f.single("SELECT count(*) FROM courier_processed_events WHERE consumer = 'audit'")).isEqualTo(1);
      assertThat(f.single("SELECT count(*) FROM courier_processed_events WHERE consumer = 'billing' AND event_id = ?",
              IdempotentProcessor.replayLedgerId(event.id(), "billing-fix-1")))
          .isEqualTo(1);
      assertThat(f.single("SELECT count(*) FROM courier_dead_letters")).as("no consumer counted an error").isZero();
      assertThat(meters.get(CourierMetrics.CONSUMER_REPLAY_SKIPPED).tag("consumer", "audit").counter().count())
          .isEqualTo(2.0);
      assertThat(meters.get(CourierMetrics.CONSUMER_REPLAY_SKIPPED).tag("consumer", "billing").counter().count())
          .isZero();

      // another replay (a second fix) applies it once more
      history.replay(orders, toBilling, "billing-fix-2", false, 0, 100, alice);
      relay.runOnce();
      Event second = broker.removeFirst();
      assertThat(billing.process(second, 1, "orders@2")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(audit.process(second, 1, "orders@2")).isInstanceOf(HandleOutcome.NotAddressed.class);
      assertThat(f.single("SELECT count(*) FROM effects WHERE consumer = 'billing'")).isEqualTo(3);
    }
    assertThat(f.single("SELECT count(*) FROM courier_audit WHERE action = 'history.replay'")).isEqualTo(2);
  }

  @Test
  void aBadTarget_isRefusedBeforeAnythingChanges() throws Exception {
    write("orders", "k1");
    String before = f.snapshot("courier_outbox") + f.snapshot("courier_replays") + f.snapshot("courier_audit");
    HistoryReplay history = new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock);
    HistoryFilter orders = new HistoryFilter(null, null, "OrderPlaced", null, null, false);

    assertThatThrownBy(() -> history.replay(orders, new ReplayTarget(null, "-billing"), null, false, 0, 100, alice))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("consumer: '-billing' is not a valid consumer name");
    assertThatThrownBy(() -> history.replay(orders, new ReplayTarget(null, "biling"), null, false, 0, 100, alice))
        .as("a well-formed name no consumer here has: every consumer would skip the replay")
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("consumer: no consumer named 'biling'");
    assertThatThrownBy(() -> history.replay(orders, new ReplayTarget(null, "biling"), null, true, 0, 100, alice))
        .as("also in a dry run")
        .isInstanceOf(InvalidRequestException.class);
    assertThatThrownBy(() -> new ReplayTarget("x".repeat(256), null))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("toDestination:");
    assertThatThrownBy(() -> new ReplayTarget("orders\n", null))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("toDestination:");
    assertThat(f.snapshot("courier_outbox") + f.snapshot("courier_replays") + f.snapshot("courier_audit"))
        .isEqualTo(before);
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

  @Test
  void aReplayToOneConsumerThatFailsThere_isDeadLettered_andReplayingThatDeadLetterReachesIt() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean();
    List<java.util.UUID> applied = new CopyOnWriteArrayList<>();
    IdempotentProcessor billing =
        IdempotentProcessor.builder("billing", f.db, (e, c) -> {
              if (broken.get()) {
                throw new dev.courier.PoisonEventException("billing cannot take " + e.id() + " today");
              }
              applied.add(e.id());
            })
            .clock(f.clock)
            .build();
    Event event = write("orders", "k1").getFirst();
    try (Relay relay = relay()) {
      relay.runOnce();
      assertThat(billing.process(broker.removeFirst(), 1, "orders@0")).isInstanceOf(HandleOutcome.Applied.class);

      // the consumer applied the event long ago; a replay addressed to it fails there
      HistoryReplay history = new HistoryReplay(f.db, CourierTables.DEFAULT, f.clock);
      history.replay(new HistoryFilter(null, null, null, "k1", null, false), new ReplayTarget(null, "billing"),
          "billing-fix-1", false, 0, 100, alice);
      relay.runOnce();
      broken.set(true);
      assertThat(billing.process(broker.removeFirst(), 1, "orders@1")).isInstanceOf(HandleOutcome.DeadLettered.class);
      long deadLetter = f.single("SELECT id FROM courier_dead_letters WHERE consumer = 'billing'");

      // the ledger holds the event id from the first delivery: that must not count as "applied"
      ReplayResult r = f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(deadLetter)), "dlq-1", alice));
      assertThat(r.replayed()).as("enqueued, not resolved as already processed").isEqualTo(1);
      assertThat(r.alreadyProcessed()).isEmpty();

      broken.set(false);
      relay.runOnce();
      Event again = broker.removeFirst();
      assertThat(again.headers())
          .as("still addressed to billing, now as the dead-letter replay")
          .containsEntry(ReceivedMessage.REPLAY_CONSUMER, "billing")
          .containsEntry(ReceivedMessage.REPLAY_ID, "dlq-1");
      assertThat(billing.process(again, 1, "orders@2")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(applied).containsExactly(event.id(), event.id());
    }
  }

  /** Appends one committed OrderPlaced event to {@code destination} per key, a second apart. */
  private List<Event> write(String destination, String... keys) throws Exception {
    Outbox outbox = Outbox.builder().clock(f.clock).build();
    List<Event> written = new ArrayList<>();
    for (String key : keys) {
      try (Connection c = f.db.getConnection()) {
        c.setAutoCommit(false);
        written.add(outbox.append(c, Event.builder("OrderPlaced").destination(destination).key(key).payload("{}")));
        c.commit();
      }
      f.clock.advance(Duration.ofSeconds(1));
    }
    return written;
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
