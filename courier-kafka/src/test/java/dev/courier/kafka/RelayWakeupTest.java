package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.outbox.Outbox;
import dev.courier.relay.PgWakeups;
import dev.courier.relay.Relay;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;

/**
 * Wake-ups: a relay whose poll interval is long still publishes a new event within moments, woken
 * in the same JVM by the outbox's append hook or across processes by a rate-limited NOTIFY.
 */
class RelayWakeupTest {
  private static final Duration LONG_POLL = Duration.ofSeconds(20);
  private DeliveryFixture db;
  private String topic;

  @BeforeEach
  void setUp() {
    db = new DeliveryFixture("wakeup");
    topic = TestKafka.createTopic(TestKafka.uniqueTopic("wakeup"), 1);
  }

  @AfterEach
  void tearDown() {
    db.close();
  }

  private Relay idleRelay() throws InterruptedException {
    // Polls only every 20 s: anything published sooner was woken, not polled.
    Relay relay =
        db.closeLater(
            db.relay(db.transport()).minPollInterval(LONG_POLL).maxPollInterval(LONG_POLL).build());
    relay.start();
    Thread.sleep(300); // let the first (empty) pass finish, so the relay is waiting
    return relay;
  }

  @Test
  void notifyFromAnotherProcess_wakesAnIdleRelayLongBeforeItsNextPoll() throws Exception {
    Relay relay = idleRelay();
    db.closeLater(PgWakeups.listen(db.dataSource(), PgWakeups.DEFAULT_CHANNEL, relay));
    Thread.sleep(300); // the listener is connected and listening
    // the "other process": its own outbox and notifier, no reference to the relay
    try (PgWakeups.Notifier notifier =
        PgWakeups.notifier(db.dataSource(), PgWakeups.DEFAULT_CHANNEL, Duration.ofMillis(20))) {
      Outbox writer = Outbox.builder().build();
      Event e;
      try (Connection c = db.dataSource().getConnection()) {
        c.setAutoCommit(false);
        e = writer.append(c, DeliveryFixture.event(topic, "k", "woken"));
        c.commit();
      }
      long start = System.nanoTime();
      notifier.run();
      await().atMost(Duration.ofSeconds(5)).until(() -> "PUBLISHED".equals(db.outboxRow(e.id()).get("status")));
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(LONG_POLL.dividedBy(4));
    }
  }

  @Test
  void appendHookInTheSameJvm_wakesTheRelay_evenWhenTheHintArrivesBeforeTheCommit() throws Exception {
    Relay relay =
        db.closeLater(
            db.relay(db.transport())
                .minPollInterval(Duration.ofMillis(5))
                .maxPollInterval(LONG_POLL)
                .build());
    relay.start();
    Thread.sleep(3_000); // idle long enough that the next poll is seconds away
    Outbox writer = Outbox.builder().onAppend(relay::wakeup).build();
    Event e;
    long start;
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      e = writer.append(c, DeliveryFixture.event(topic, "k", "hinted before commit"));
      Thread.sleep(30); // the hint is already out; the commit comes later
      start = System.nanoTime();
      c.commit();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> "PUBLISHED".equals(db.outboxRow(e.id()).get("status")));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
  }

  @Test
  void hintBeforeTheCommit_isFollowedByShortRechecks_soTheCommitIsPublishedLongBeforeTheNextPoll()
      throws Exception {
    // Only the wake-up can publish this event in time: both poll intervals are 20 s.
    Relay relay = idleRelay();
    Outbox writer = Outbox.builder().onAppend(relay::wakeup).build();
    Event e;
    long committed;
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      e = writer.append(c, DeliveryFixture.event(topic, "k", "hinted, then committed later"));
      Thread.sleep(50); // the woken pass finds nothing: the row is not committed yet
      c.commit();
      committed = System.nanoTime();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> "PUBLISHED".equals(db.outboxRow(e.id()).get("status")));
    assertThat(Duration.ofNanos(System.nanoTime() - committed)).isLessThan(LONG_POLL.dividedBy(4));
  }

  @Test
  void notifier_sendsAtMostOneNotifyPerInterval_howeverManyAppends() throws Exception {
    String channel = "courier_rate_test";
    try (Connection listener = db.dataSource().getConnection();
        PgWakeups.Notifier notifier = PgWakeups.notifier(db.dataSource(), channel, Duration.ofMillis(200))) {
      listener.setAutoCommit(true);
      try (Statement s = listener.createStatement()) {
        s.execute("LISTEN " + channel);
      }
      long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
      int appends = 0;
      while (System.nanoTime() < end) {
        notifier.run();
        appends++;
        Thread.sleep(1);
      }
      Thread.sleep(400);
      PGConnection pg = listener.unwrap(PGConnection.class);
      var notes = pg.getNotifications(500);
      int received = notes == null ? 0 : notes.length;
      assertThat(appends).isGreaterThan(100);
      assertThat(received).as("NOTIFYs for %s appends in 1 s at most one per 200 ms", appends).isBetween(1, 7);
    }
  }

}
