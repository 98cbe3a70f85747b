package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.jdbc.TimePartitions;
import dev.courier.admin.Attribution;
import dev.courier.admin.Retention;
import dev.courier.outbox.HistoryFilter;
import dev.courier.outbox.HistoryReplay;
import dev.courier.outbox.HistoryReplayResult;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxSelection;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link Relay.ClaimMode#LOG} on a real PostgreSQL: what the snapshot cursor reads and in which
 * order, what a failing row parks, and how relays divide and fence partitions. The broker here is
 * a recording transport, since what is tested is what the relay reads and hands over; the
 * delivery through a real broker is OutboxToKafkaInLogModeTest's.
 */
class LogModeTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final RetryPolicy FAST_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(3)
          .initialDelay(Duration.ofMillis(10))
          .maxDelay(Duration.ofMillis(20))
          .jitter(false)
          .build();

  @RegisterExtension final RelaySchema schema = new RelaySchema("log_mode");

  private final Recording broker = new Recording();
  private final Outbox outbox = Outbox.builder().build();

  @BeforeEach
  void logMode() {
    Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 4);
  }

  @Test
  void logRelay_publishesEachCommittedEventOnce_andNeverOneWhoseTransactionRolledBack() throws Exception {
    List<Event> committed = schema.append(event("K", "1"), event("L", "1"), event("K", "2"));
    try (Connection c = schema.db().getConnection()) {
      c.setAutoCommit(false);
      outbox.append(c, event("K", "rolled back"));
      c.rollback();
    }
    Relay relay = relay("solo").build();

    drain(relay);
    drain(relay);

    assertThat(broker.ids()).containsExactlyInAnyOrderElementsOf(ids(committed));
    assertThat(broker.payloadsOf("K")).containsExactly("1", "2");
    assertThat(statusCounts()).as("no row is written on the success path").containsOnlyKeys("LOG");
  }

  @Test
  void lateCommittingTransaction_isPublishedOnceItCommits_notSkipped() throws Exception {
    Relay relay = relay("solo").build();
    try (Connection late = schema.db().getConnection()) {
      late.setAutoCommit(false);
      Event first = outbox.append(late, event("A", "late"));
      Event second = schema.append(event("B", "early")).getFirst();

      drain(relay);
      assertThat(broker.ids()).containsExactly(second.id());

      late.commit();
      drain(relay);
      assertThat(broker.ids()).containsExactly(second.id(), first.id());
    }
  }

  /**
   * The trap of transaction-id order: B takes its id first, a long transaction C holds the horizon
   * between B and A, A appends for K and commits, then B appends for K and commits. A relay that
   * published everything below the horizon in txid order would publish B's event (below C) before
   * A's (above it). The snapshot cursor publishes A's first, as the application serialized them.
   */
  @Test
  void keysEventsGoOutInTheOrderTheyWereAppended_evenWhenTheLaterWriterTookItsTransactionIdFirst()
      throws Exception {
    execute("CREATE TABLE side_effects (id SERIAL PRIMARY KEY, note TEXT)");
    Relay relay = relay("solo").build();
    try (Connection b = schema.db().getConnection();
        Connection c = schema.db().getConnection()) {
      b.setAutoCommit(false);
      c.setAutoCommit(false);
      long bTxid = writeSomethingElse(b);
      long cTxid = writeSomethingElse(c);
      Event fromA;
      long aTxid;
      try (Connection a = schema.db().getConnection()) {
        a.setAutoCommit(false);
        fromA = outbox.append(a, event("K", "from A, appended first"));
        aTxid = txid(a);
        a.commit();
      }
      Event fromB = outbox.append(b, event("K", "from B, appended second"));
      b.commit();
      assertThat(bTxid).as("the trap's conditions").isLessThan(cTxid);
      assertThat(cTxid).isLessThan(aTxid);

      drain(relay);

      assertThat(broker.ids())
          .as("A's event first, though B's transaction id is lower and C still runs")
          .containsExactly(fromA.id(), fromB.id());
      Event fromC = outbox.append(c, event("K", "from C"));
      c.commit();
      drain(relay);
      assertThat(broker.ids()).containsExactly(fromA.id(), fromB.id(), fromC.id());
    }
  }

  @Test
  void batchLargerThanOnePage_isPublishedInPages_inAppendOrder_eachEventOnce() throws Exception {
    List<Event> events = new ArrayList<>();
    for (int t = 0; t < 10; t++) {
      Event.Builder[] tx = new Event.Builder[100];
      for (int i = 0; i < tx.length; i++) {
        tx[i] = event("k" + (i % 7), String.valueOf(t * 100 + i));
      }
      events.addAll(schema.append(tx));
    }
    Relay relay = relay("solo").batchSize(64).build();

    drain(relay);

    assertThat(broker.ids()).hasSize(1000).containsExactlyInAnyOrderElementsOf(ids(events));
    for (int k = 0; k < 7; k++) {
      assertThat(broker.payloadsOf("k" + k).stream().map(Integer::parseInt).toList())
          .as("key k%d in append order", k)
          .isSorted();
    }
  }

  @Test
  void eventThatKeepsFailing_isParkedDead_andItsKeysLaterEventsAreParkedBehindIt_whileOtherKeysGoOn()
      throws Exception {
    Event poison = schema.append(event("K", "poison"), event("L", "1")).getFirst();
    broker.failing.add(poison.id());
    Relay relay =
        relay("solo")
            .retryPolicy(everyMillis(100, 3))
            .build();
    relay.runOnce();
    assertThat(broker.payloadsOf("L")).as("L is not held up by K's failure").containsExactly("1");
    // appended while the poison event waits for its retry
    List<Event> events = new ArrayList<>(List.of(poison));
    events.addAll(schema.append(event("K", "2"), event("L", "2"), event("K", "3")));

    drainUntil(relay, () -> "DEAD".equals(status(poison)));
    Event later = schema.append(event("K", "4"), event("M", "1")).get(1);
    drain(relay);

    assertThat(broker.payloadsOf("L")).containsExactly("1", "2");
    assertThat(broker.payloadsOf("K")).as("nothing of K passes its dead event").isEmpty();
    assertThat(broker.ids()).contains(later.id());
    assertThat(status(events.get(0))).isEqualTo("DEAD");
    assertThat(status(events.get(1))).isEqualTo("PARKED");
    assertThat(status(events.get(3))).isEqualTo("PARKED");
    assertThat(lastError(events.getFirst())).contains("refused by the test broker");
    assertThat(statusCounts()).containsEntry("DEAD", 1L).containsEntry("PARKED", 3L);

    Relay successor = relay("successor").retryPolicy(FAST_RETRIES).build();
    relay.close();
    List<Event> afterRestart = schema.append(event("K", "5"));
    drain(successor);
    assertThat(status(afterRestart.getFirst()))
        .as("a new owner knows the parked key from the table")
        .isEqualTo("PARKED");
  }

  @Test
  void nextBatch_goesOutWhileTheOpenBatchsLastEventAwaitsItsConfirmation_andTheCursorCoversBoth()
      throws Exception {
    Event slow = schema.append(event("K", "1")).getFirst();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch confirm = new CountDownLatch(1);
    broker.holding.put(slow.id(), new CountDownLatch[] {entered, confirm});
    Relay relay = relay("solo").build();
    relay.start();
    try {
      assertThat(entered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("K's event is being published").isTrue();
      List<Event> meanwhile = schema.append(event("L", "1"), event("K", "2"));

      poll(() -> broker.ids().contains(meanwhile.getFirst().id()));
      assertThat(broker.ids())
          .as("L's event went out while K's first awaited its confirmation; K's second waits for it")
          .containsExactly(meanwhile.getFirst().id());

      confirm.countDown();
      poll(() -> broker.ids().size() == 3);
      assertThat(broker.payloadsOf("K")).containsExactly("1", "2");
    } finally {
      confirm.countDown();
      relay.close();
    }
    Relay successor = relay("successor").build();
    drain(successor);
    assertThat(broker.ids()).as("the cursor written covers both batches: nothing again").hasSize(3);
    successor.close();
  }

  @Test
  void eventBeingRetried_goesOutWithoutItsKeysLaterEvents_thatFollowItsSuccess() throws Exception {
    Event flaky = schema.append(event("K", "1")).getFirst();
    broker.failuresLeft.put(flaky.id(), 2);
    Relay relay =
        relay("solo")
            .retryPolicy(everyMillis(50, 5))
            .build();
    relay.runOnce();
    List<Event> later = schema.append(event("K", "2"), event("K", "3"), event("L", "1"));

    drainUntil(relay, () -> broker.ids().size() == 4);

    assertThat(broker.payloadsOf("K")).as("K's later events only after its first succeeded").containsExactly("1", "2", "3");
    assertThat(broker.ids().indexOf(later.get(2).id()))
        .as("L's event did not wait for K's retries")
        .isLessThan(broker.ids().indexOf(flaky.id()));
  }

  @Test
  void relayOnAPoolOfOneConnection_publishesAndParks_andGivesTheConnectionBackWithItsOwnSettings()
      throws Exception {
    try (HikariDataSource pool = pool(1)) {
      Event poison = schema.append(event("K", "1"), event("L", "1")).getFirst();
      broker.failing.add(poison.id());
      Relay relay =
          Relay.builder(pool, broker)
              .claimMode(Relay.ClaimMode.LOG)
              .relayId("one-connection")
              .retryPolicy(FAST_RETRIES)
              .build();

      drainUntil(relay, () -> "DEAD".equals(status(poison)));
      schema.append(event("K", "2"));
      drain(relay);
      relay.close();

      assertThat(broker.payloadsOf("L")).containsExactly("1");
      assertThat(statusCounts()).containsEntry("DEAD", 1L).containsEntry("PARKED", 1L);
      try (Connection c = pool.getConnection();
          Statement st = c.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT current_setting('synchronous_commit'), current_setting('enable_sort'),"
                      + " current_setting('plan_cache_mode'), current_setting('enable_bitmapscan')")) {
        rs.next();
        assertThat(List.of(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)))
            .as("the pool's connection as it was lent")
            .containsExactly("local", "on", "auto", "on");
      }
    }
  }

  /**
   * A running relay reads its next page on a second connection while its loop writes cursors and
   * sends batches on the first: on a pool of two, a backlog of many pages goes out once each, in
   * each key's order, and both connections go back to the pool with their own settings.
   */
  @Test
  void runningRelay_readsPagesAheadOnASecondConnection_andABacklogOfManyPagesGoesOutInKeyOrder()
      throws Exception {
    try (HikariDataSource pool = pool(2)) {
      List<Event> events = new ArrayList<>();
      for (int t = 0; t < 10; t++) {
        Event.Builder[] tx = new Event.Builder[100];
        for (int i = 0; i < tx.length; i++) {
          tx[i] = event("k" + (i % 7), String.valueOf(t * 100 + i));
        }
        events.addAll(schema.append(tx));
      }
      Relay relay =
          Relay.builder(pool, broker)
              .claimMode(Relay.ClaimMode.LOG)
              .relayId("two-connections")
              .batchSize(64)
              .build();
      relay.start();
      try {
        poll(() -> broker.ids().size() >= 1000);
      } finally {
        relay.close();
      }

      assertThat(broker.ids()).hasSize(1000).containsExactlyInAnyOrderElementsOf(ids(events));
      for (int k = 0; k < 7; k++) {
        assertThat(broker.payloadsOf("k" + k).stream().map(Integer::parseInt).toList())
            .as("key k%d in append order", k)
            .isSorted();
      }
      try (Connection a = pool.getConnection();
          Connection b = pool.getConnection()) {
        for (Connection c : List.of(a, b)) {
          try (Statement st = c.createStatement();
              ResultSet rs =
                  st.executeQuery(
                      "SELECT current_setting('synchronous_commit'), current_setting('enable_sort')")) {
            rs.next();
            assertThat(List.of(rs.getString(1), rs.getString(2)))
                .as("each of the pool's connections as it was lent")
                .containsExactly("local", "on");
          }
        }
      }
    }
  }

  /**
   * A relay that has divided the partitions among the relays it saw notices one that joins within
   * a fraction of a second, not at its next heartbeat: until it does, the partitions the new
   * division gives the newcomer stay with it, and those it should take stay unowned.
   */
  @Test
  void relayThatJoins_isGivenItsShareWellBeforeTheOthersNextHeartbeat() throws Exception {
    Relay a = relay("relay-a").lease(Duration.ofMinutes(2)).heartbeatInterval(Duration.ofSeconds(30)).build();
    Relay b = relay("relay-b").lease(Duration.ofMinutes(2)).heartbeatInterval(Duration.ofSeconds(30)).build();
    try {
      a.runOnce();
      assertThat(owners()).containsExactly(Map.entry("relay-a", 4));

      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (!owners().equals(Map.of("relay-a", 2, "relay-b", 2))) {
        assertThat(System.nanoTime()).as("the partitions divided within 5 s (heartbeat 30 s)").isLessThan(deadline);
        b.runOnce();
        a.runOnce();
        Thread.sleep(20);
      }
    } finally {
      a.close();
      b.close();
    }
  }

  @Test
  void eventBeingRetried_letsFarMoreThanTheInMemoryBudgetOfOtherKeysPass() throws Exception {
    Event failing = schema.append(event("K", "failing")).getFirst();
    broker.failing.add(failing.id());
    Event.Builder[] others = new Event.Builder[300];
    for (int i = 0; i < others.length; i++) {
      others[i] = event("other-" + i, String.valueOf(i));
    }
    List<Event> behind = schema.append(others);
    // a budget of 4 batches of 10 rows (2 in flight + 2); the failing event retries every 100 ms
    // and never parks
    Relay relay =
        relay("solo")
            .batchSize(10)
            .retryPolicy(everyMillis(100, 1000))
            .stallLimit(Duration.ofHours(1))
            .build();

    drainUntil(relay, () -> broker.ids().containsAll(ids(behind)));

    assertThat(broker.ids()).doesNotContain(failing.id());
    assertThat(status(failing)).isEqualTo("LOG");
  }

  @Test
  void operatorsReplayOfADeadEvent_publishesItAndItsParkedKeyInOrder_andStatusCountsWhatWaits() throws Exception {
    Event poison = schema.append(event("K", "1"), event("L", "1")).getFirst();
    broker.failing.add(poison.id());
    Relay relay = relay("solo").retryPolicy(FAST_RETRIES).build();
    relay.runOnce();
    schema.append(event("K", "2"), event("K", "3"));
    drainUntil(relay, () -> "DEAD".equals(status(poison)));
    drain(relay);
    schema.append(event("K", "4"));
    drain(relay);
    OutboxAdmin admin = new OutboxAdmin(schema.db(), CourierTables.DEFAULT);
    assertThat(admin.status().dead()).isEqualTo(1);
    assertThat(admin.status().pending()).as("K's parked events wait").isEqualTo(3);
    assertThat(broker.payloadsOf("K")).isEmpty();

    broker.failing.clear();
    assertThat(admin.retryDead(OutboxSelection.allDead(), Attribution.of("ops"))).isEqualTo(4);
    drain(relay);

    assertThat(broker.payloadsOf("K")).as("K's events, in order, after the replay").containsExactly("1", "2", "3", "4");
    assertThat(admin.status().pending()).isZero();
    assertThat(admin.status().dead()).isZero();
    schema.append(event("K", "5"));
    drain(relay);
    assertThat(broker.payloadsOf("K")).containsExactly("1", "2", "3", "4", "5");
  }

  @Test
  void retention_movesWhatTheLogRelaysPublished_toTheArchive_andHistoryReplayPublishesItAgain() throws Exception {
    List<Event> published = schema.append(event("K", "1"), event("L", "1"));
    Relay relay = relay("solo").build();
    drain(relay);
    try (Connection waiting = schema.db().getConnection()) {
      waiting.setAutoCommit(false);
      Event uncommitted = outbox.append(waiting, event("K", "2"));
      Event unpublished = schema.append(event("M", "1")).getFirst();
      Clock later = Clock.offset(Clock.systemUTC(), Duration.ofHours(2));

      Retention.Result pruned =
          new Retention(schema.db(), CourierTables.DEFAULT, later)
              .prune(new Retention.Policy(null, Duration.ofHours(1), null, true), false, Attribution.of("ops"));

      assertThat(pruned.outboxRows()).as("the two published rows").isEqualTo(2);
      assertThat(pruned.archivedRows()).isEqualTo(2);
      assertThat(status(unpublished)).as("not published yet: stays").isEqualTo("LOG");
      waiting.commit();
      drain(relay);
      assertThat(broker.ids()).contains(uncommitted.id(), unpublished.id());
    }

    HistoryReplayResult replayed =
        new HistoryReplay(schema.db(), CourierTables.DEFAULT, Clock.systemUTC())
            .replay(new HistoryFilter(null, null, null, "L", null, false), null, false, 0, 100, Attribution.of("ops"));
    drain(relay);

    assertThat(replayed.replayed()).isEqualTo(1);
    assertThat(broker.ids()).as("L's event, published again from the archive").containsOnlyOnce(published.get(0).id());
    assertThat(broker.ids().stream().filter(published.get(1).id()::equals).count()).isEqualTo(2);
  }

  @Test
  void relayWhoseLeaseEnded_publishesNothingMore_andTheNewOwnerPublishesFromTheCursor() throws Exception {
    Relay paused =
        relay("paused").publishTimeout(Duration.ofMillis(500)).lease(Duration.ofMillis(1500)).build();
    schema.append(event("K", "1"));
    drain(paused);
    assertThat(broker.payloadsOf("K")).containsExactly("1");

    // the relay is paused past its lease, and another relay takes its partitions meanwhile
    Thread.sleep(1700);
    Relay successor =
        relay("successor").publishTimeout(Duration.ofMillis(500)).lease(Duration.ofMillis(1500)).build();
    schema.append(event("K", "2"));
    drain(successor);
    schema.append(event("K", "3"));
    paused.runOnce();
    paused.runOnce();
    paused.close();

    assertThat(broker.payloadsOf("K"))
        .as("the paused relay published nothing on the lease it lost")
        .containsExactly("1", "2");
    drain(successor);
    assertThat(broker.payloadsOf("K")).containsExactly("1", "2", "3");
  }

  @Test
  void secondProcessGivenALiveRelaysId_publishesNothing_untilThatRelayLeaves() throws Exception {
    Relay first = relay("twin").lease(Duration.ofSeconds(60)).build();
    schema.append(event("K", "1"));
    drain(first);
    assertThat(owners()).containsOnlyKeys("twin").containsValues(4);

    // a second process started with the same id (two pods given one host name, say)
    Relay second = relay("twin").lease(Duration.ofSeconds(60)).build();
    schema.append(event("K", "2"));
    for (int i = 0; i < 5; i++) {
      second.runOnce();
    }
    assertThat(broker.payloadsOf("K")).as("the second process published nothing").containsExactly("1");

    drain(first);
    assertThat(broker.payloadsOf("K")).as("the first one keeps its partitions").containsExactly("1", "2");

    first.close();
    schema.append(event("K", "3"));
    // the second one registers once the first has left, and takes the partitions from the cursor
    Thread.sleep(1100);
    drainUntil(second, () -> broker.payloadsOf("K").size() == 3);
    second.close();
    assertThat(broker.payloadsOf("K")).containsExactly("1", "2", "3");
  }

  @Test
  void threeRelaysOnSixteenPartitions_divideThem_andKeepEveryKeysOrder_whileRelaysJoinAndLeave() throws Exception {
    execute("TRUNCATE courier_outbox_partitions");
    Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 16);
    Relay a = relay("relay-a").lease(Duration.ofSeconds(3)).publishTimeout(Duration.ofSeconds(1)).build();
    Relay b = relay("relay-b").lease(Duration.ofSeconds(3)).publishTimeout(Duration.ofSeconds(1)).build();
    Relay c = relay("relay-c").lease(Duration.ofSeconds(3)).publishTimeout(Duration.ofSeconds(1)).build();
    int keys = 40;
    int perKey = 50;
    a.start();
    try {
      for (int i = 0; i < perKey; i++) {
        Event.Builder[] tx = new Event.Builder[keys];
        for (int k = 0; k < keys; k++) {
          tx[k] = event("key-" + k, String.valueOf(i));
        }
        schema.append(tx);
        if (i == 10) {
          b.start();
        }
        if (i == 20) {
          c.start();
        }
        if (i == 35) {
          a.close();
        }
        Thread.sleep(20);
      }
      poll(() -> broker.distinct() == keys * perKey);
      poll(() -> owners().size() == 2 && !owners().containsKey("relay-a"));
      assertThat(owners())
          .as("the two remaining relays share the 16 partitions")
          .containsOnlyKeys("relay-b", "relay-c")
          .containsValues(8, 8);
    } finally {
      a.close();
      b.close();
      c.close();
    }

    for (int k = 0; k < keys; k++) {
      List<Integer> firstArrivals =
          broker.payloadsOf("key-" + k).stream().map(Integer::parseInt).distinct().toList();
      assertThat(firstArrivals).as("first arrivals of key-%d", k).isSorted().hasSize(perKey);
    }
  }

  /** The procedure of OPERATIONS.md, "Log mode: changing the partition count". */
  @Test
  void partitionCount_isChangedByDrainingThenSwitching_andNothingIsLost() throws Exception {
    List<Event> before = schema.append(event("K", "1"), event("L", "1"), event("M", "1"));
    Relay relay = relay("solo").build();
    drain(relay);
    relay.close();

    execute(
        "BEGIN; DELETE FROM courier_outbox_partitions; DROP INDEX courier_outbox_log4_seq_ix;"
            + " DROP INDEX courier_outbox_log4_txid_ix; DROP INDEX courier_outbox_log4_parked_ix; COMMIT");
    Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 8);
    List<Event> after = schema.append(event("K", "2"), event("N", "1"));
    Relay switched = relay("switched").build();
    drain(switched);

    assertThat(Schema.logPartitions(schema.db(), CourierTables.DEFAULT)).isEqualTo(8);
    assertThat(broker.ids()).as("what was still in the outbox is published again: duplicates, no gap")
        .containsAll(ids(before)).containsAll(ids(after));
    assertThat(broker.payloadsOf("K")).containsExactly("1", "1", "2");
  }

  @Test
  void logRelay_onAnOutboxNotInLogMode_isRefusedWithWhatToDo() {
    try {
      execute("TRUNCATE courier_outbox_partitions");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    assertThatThrownBy(() -> relay("solo").build().runOnce())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("not in log mode")
        .hasMessageContaining("courier migrate --log-mode");
  }

  @Test
  void leaseOrLockRelay_onAnOutboxInLogMode_isRefused_insteadOfPublishingNothing() throws Exception {
    schema.append(event("K", "waiting"));
    for (Relay.ClaimMode mode : List.of(Relay.ClaimMode.LEASE, Relay.ClaimMode.LOCK)) {
      Relay relay = relay("solo").claimMode(mode).build();
      assertThatThrownBy(relay::start)
          .isInstanceOf(ConfigurationException.class)
          .hasMessageContaining("is in log mode (4 partitions)")
          .hasMessageContaining("claimMode(LOG)");
      assertThatThrownBy(relay::runOnce)
          .as("a relay stepped by hand, as one that could not reach the database at start")
          .isInstanceOf(ConfigurationException.class)
          .hasMessageContaining("is in log mode");
    }
    assertThat(broker.payloadsOf("K")).isEmpty();
  }

  @Test
  void turningLogModeOn_convertsPendingRows_andLeavesPublishedAndDeadOnesAlone() throws Exception {
    execute("TRUNCATE courier_outbox_partitions");
    execute("ALTER TABLE courier_outbox ALTER COLUMN status SET DEFAULT 'PENDING'");
    execute("ALTER TABLE courier_outbox ALTER COLUMN txid DROP DEFAULT");
    List<Event> events = schema.append(event("K", "published"), event("K", "dead"), event("K", "pending"));
    execute("UPDATE courier_outbox SET status = 'PUBLISHED' WHERE seq = " + schema.seqOf(events.get(0)));
    execute("UPDATE courier_outbox SET status = 'DEAD' WHERE seq = " + schema.seqOf(events.get(1)));

    assertThat(Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 4)).isEqualTo(1);
    drain(relay("solo").build());

    assertThat(broker.payloadsOf("K")).containsExactly("pending");
    assertThat(status(events.get(0))).isEqualTo("PUBLISHED");
    assertThatThrownBy(() -> Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 8))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("4 partitions");
  }

  @Test
  void timePartitionedOutbox_takesEveryAppend_evenOneNoRangeCovers_andItsRelayPublishesInKeyOrder() throws Exception {
    assertThat(Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofDays(1))).isTrue();
    assertThat(Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofDays(1)))
        .as("a second call changes nothing")
        .isFalse();
    Instant now = Instant.now();
    List<Event> events =
        schema.append(
            event("K", "1"),
            event("K", "2").createdAt(now.minus(Duration.ofDays(400))),
            event("K", "3").createdAt(now.plus(Duration.ofDays(1))),
            event("L", "1"));

    assertThat(partitionOf(events.get(0))).isEqualTo("courier_outbox_p" + day(now));
    assertThat(partitionOf(events.get(1))).as("no range covers it").isEqualTo("courier_outbox_pdefault");
    assertThat(partitionOf(events.get(2))).isEqualTo("courier_outbox_p" + day(now.plus(Duration.ofDays(1))));
    assertThatThrownBy(() -> schema.append(event("L", "1").id(events.get(3).id()).createdAt(events.get(3).createdAt())))
        .as("the same event appended again is refused, as on a plain outbox")
        .hasMessageContaining("already in the outbox");
    drain(relay("solo").build());

    assertThat(broker.payloadsOf("K")).containsExactly("1", "2", "3");
    assertThat(broker.payloadsOf("L")).containsExactly("1");
    assertThat(new OutboxAdmin(schema.db(), CourierTables.DEFAULT).status().pending()).isZero();
  }

  @Test
  void timePartitions_areMadeAhead_andARangeTheDefaultPartitionAlreadyHoldsRowsOfIsSkipped() throws Exception {
    Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofDays(1));
    Instant now = Instant.now();
    schema.append(event("K", "far").createdAt(now.plus(Duration.ofDays(4))));

    TimePartitions.Maintenance m =
        Schema.maintainTimePartitions(schema.db(), CourierTables.DEFAULT, now.plus(Duration.ofDays(3)));

    assertThat(m.created())
        .containsExactly(
            "courier_outbox_p" + day(now.plus(Duration.ofDays(3))), "courier_outbox_p" + day(now.plus(Duration.ofDays(5))));
    assertThat(m.skipped()).singleElement().asString().startsWith("courier_outbox_p" + day(now.plus(Duration.ofDays(4))));
    assertThat(Schema.maintainTimePartitions(schema.db(), CourierTables.DEFAULT, now.plus(Duration.ofDays(3))).created())
        .as("nothing more to make")
        .isEmpty();
  }

  @Test
  void retention_dropsATimePartitionWholeOnceEveryRowIsPublished_andKeepsOneWithADeadOrWaitingRow() throws Exception {
    Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofDays(1));
    Instant now = Instant.now();
    Instant tomorrow = now.plus(Duration.ofDays(1));
    Instant dayAfter = now.plus(Duration.ofDays(2));
    List<Event> today = schema.append(event("K", "1"), event("L", "1"));
    Event failing = schema.append(event("M", "1").createdAt(tomorrow)).getFirst();
    broker.failing.add(failing.id());
    Relay relay = relay("solo").retryPolicy(FAST_RETRIES).build();
    drain(relay);
    assertThat(status(failing)).isEqualTo("DEAD");
    Event waiting = schema.append(event("N", "1").createdAt(dayAfter)).getFirst();
    Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(10));

    Retention.Result dry =
        new Retention(schema.db(), CourierTables.DEFAULT, later)
            .prune(new Retention.Policy(null, Duration.ofDays(1), null, true), true, Attribution.of("ops"));
    Retention.Result pruned =
        new Retention(schema.db(), CourierTables.DEFAULT, later)
            .prune(new Retention.Policy(null, Duration.ofDays(1), null, true), false, Attribution.of("ops"));

    assertThat(dry.outboxRows()).as("the dry run counts what goes").isEqualTo(2);
    assertThat(pruned.outboxRows()).as("today's partition, whole").isEqualTo(2);
    assertThat(pruned.archivedRows()).isEqualTo(2);
    List<String> left;
    try (Connection c = schema.db().getConnection()) {
      left = TimePartitions.ranges(c, CourierTables.DEFAULT).stream().map(TimePartitions.Range::table).toList();
    }
    assertThat(left)
        .as("the partitions holding a dead row and an unpublished one stay")
        .contains(qualified("courier_outbox_p" + day(tomorrow)), qualified("courier_outbox_p" + day(dayAfter)))
        .doesNotContain(qualified("courier_outbox_p" + day(now)));
    assertThat(status(waiting)).isEqualTo("LOG");

    HistoryReplayResult replayed =
        new HistoryReplay(schema.db(), CourierTables.DEFAULT, Clock.systemUTC())
            .replay(new HistoryFilter(null, null, null, "K", null, false), null, false, 0, 100, Attribution.of("ops"));
    drain(relay);
    assertThat(replayed.replayed()).isEqualTo(1);
    assertThat(broker.ids().stream().filter(today.get(0).id()::equals).count())
        .as("K's event, published again from the archive")
        .isEqualTo(2);
  }

  @Test
  void partitioningByTime_refusesAnOutboxWithRows_andLeavesItAsItWas() throws Exception {
    Event e = schema.append(event("K", "1")).getFirst();

    assertThatThrownBy(() -> Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofDays(1)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("holds 1 rows")
        .hasMessageContaining("nothing was changed");
    assertThatThrownBy(() -> Schema.partitionByTime(schema.db(), CourierTables.DEFAULT, Duration.ofMinutes(30)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("whole hours from 1h to 31d");
    assertThat(partitionOf(e)).isEqualTo("courier_outbox");
  }

  // ------------------------------------------------------------------------------------------

  private String partitionOf(Event e) {
    return column(e, "tableoid::regclass::text").replaceFirst("^.*\\.", "");
  }

  private String qualified(String table) throws SQLException {
    try (Connection c = schema.db().getConnection()) {
      return c.getSchema() + "." + table;
    }
  }

  private static String day(Instant at) {
    return java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'_0000'")
        .withZone(java.time.ZoneOffset.UTC)
        .format(at);
  }

  private Relay.Builder relay(String id) {
    return Relay.builder(schema.db(), broker)
        .claimMode(Relay.ClaimMode.LOG)
        .relayId(id)
        .minPollInterval(Duration.ofMillis(2))
        .maxPollInterval(Duration.ofMillis(50));
  }

  /** Retries at a fixed delay, without jitter, up to {@code attempts} attempts in all. */
  private static RetryPolicy everyMillis(long delay, int attempts) {
    return RetryPolicy.builder()
        .maxAttempts(attempts)
        .initialDelay(Duration.ofMillis(delay))
        .maxDelay(Duration.ofMillis(delay))
        .jitter(false)
        .build();
  }

  private static Event.Builder event(String key, String payload) {
    return Event.builder("Step").destination("orders").key(key).payload(payload);
  }

  /**
   * Steps the relay until three passes in a row do nothing, the idle ones 25 ms apart: longer than
   * the retry delays these tests use, so that a retry falling due is not mistaken for the end.
   */
  private static void drain(Relay relay) throws InterruptedException {
    int idle = 0;
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (idle < 3 && System.nanoTime() < deadline) {
      BatchResult r = relay.runOnce();
      idle = r.claimed() + r.published() + r.retried() + r.dead() == 0 ? idle + 1 : 0;
      if (idle > 0) {
        Thread.sleep(25);
      }
    }
  }

  private static void drainUntil(Relay relay, BooleanSupplier done) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition within %s", WAIT).isLessThan(deadline);
      relay.runOnce();
    }
  }

  private static void poll(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition within %s", WAIT).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static List<UUID> ids(List<Event> events) {
    return events.stream().map(Event::id).toList();
  }

  private long writeSomethingElse(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("INSERT INTO side_effects (note) VALUES ('takes a transaction id')");
    }
    return txid(c);
  }

  private static long txid(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT pg_current_xact_id()::text::bigint")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private void execute(String sql) throws SQLException {
    try (Connection c = schema.db().getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private String status(Event e) {
    return column(e, "status");
  }

  private String lastError(Event e) {
    return column(e, "last_error");
  }

  private String column(Event e, String column) {
    try (Connection c = schema.db().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT " + column + " FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, e.id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        return rs.getString(1);
      }
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  private Map<String, Long> statusCounts() throws SQLException {
    Map<String, Long> counts = new HashMap<>();
    try (Connection c = schema.db().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT status, count(*) FROM courier_outbox GROUP BY status")) {
      while (rs.next()) {
        counts.put(rs.getString(1), rs.getLong(2));
      }
    }
    return counts;
  }

  /** Partitions per owner with a running lease. */
  private Map<String, Integer> owners() {
    Map<String, Integer> owners = new LinkedHashMap<>();
    try (Connection c = schema.db().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT owner, count(*) FROM courier_outbox_partitions WHERE owner IS NOT NULL"
                    + " AND lease_until > now() GROUP BY owner")) {
      while (rs.next()) {
        owners.put(rs.getString(1), rs.getInt(2));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return owners;
  }

  /** Confirms every event but the failing ones, and records what it was handed, in order. */
  private static final class Recording implements Transport {
    final Set<UUID> failing = ConcurrentHashMap.newKeySet();
    /** events refused this many more times before they are taken */
    final Map<UUID, Integer> failuresLeft = new ConcurrentHashMap<>();
    /** events whose publish signals the first latch, then waits for the second before confirming */
    final Map<UUID, CountDownLatch[]> holding = new ConcurrentHashMap<>();
    private final List<Event> published = Collections.synchronizedList(new ArrayList<>());

    @Override
    public String name() {
      return "recording";
    }

    @Override
    public List<PublishResult> publish(List<Event> batch, Duration timeout) {
      List<PublishResult> results = new ArrayList<>(batch.size());
      for (Event e : batch) {
        CountDownLatch[] hold = holding.remove(e.id());
        if (hold != null) {
          hold[0].countDown();
          try {
            if (!hold[1].await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
              throw new IllegalStateException("the test never let the held event be confirmed");
            }
          } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
          }
        }
        boolean refuse = failing.contains(e.id());
        Integer left = failuresLeft.get(e.id());
        if (left != null && left > 0) {
          failuresLeft.put(e.id(), left - 1);
          refuse = true;
        }
        if (refuse) {
          results.add(new PublishResult.Failed(e.id(), new IllegalStateException("refused by the test broker"), true));
        } else {
          published.add(e);
          results.add(new PublishResult.Confirmed(e.id(), "test", false));
        }
      }
      return results;
    }

    List<UUID> ids() {
      synchronized (published) {
        return published.stream().map(Event::id).toList();
      }
    }

    long distinct() {
      synchronized (published) {
        return published.stream().map(Event::id).distinct().count();
      }
    }

    List<String> payloadsOf(String key) {
      synchronized (published) {
        return published.stream()
            .filter(e -> key.equals(e.key()))
            .map(e -> new String(e.payload(), StandardCharsets.UTF_8))
            .toList();
      }
    }
  }  /** A pool of {@code size} connections whose own settings differ from the relay's session's. */
  private HikariDataSource pool(int size) {
    HikariConfig hc = new HikariConfig();
    hc.setDataSource(schema.db());
    hc.setMaximumPoolSize(size);
    hc.setConnectionTimeout(2_000);
    hc.setConnectionInitSql("SET synchronous_commit = local");
    return new HikariDataSource(hc);
  }


}
