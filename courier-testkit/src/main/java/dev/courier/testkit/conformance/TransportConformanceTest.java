package dev.courier.testkit.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.inbox.EventHandler;
import dev.courier.admin.Attribution;
import dev.courier.inbox.ConsumerPauses;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.ReceivedMessage;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The contract every Courier transport keeps, as one suite that each transport runs unchanged
 * against a real broker and a real PostgreSQL. A transport module adds a subclass of about twenty
 * lines: how to build the transport, how to prepare a fresh destination, and (optionally) how to
 * restart the broker.
 *
 * <p>What the suite proves, per transport:
 *
 * <ul>
 *   <li>a confirmed publish is delivered, and its effect applied once;
 *   <li>a confirmed publish survives a broker restart;
 *   <li>a consumer that crashes after its commit and before its ack gets the event again, and the
 *       ledger absorbs it (one effect, a dedupe hit);
 *   <li>the ack never precedes the database commit: a consumer that dies inside the handler, before
 *       its commit, gets the event again and applies it;
 *   <li>a poison event is dead-lettered and the stream goes on;
 *   <li>a failing handler is retried with backoff and then dead-lettered;
 *   <li>a broker restart in the middle of a stream loses nothing;
 *   <li>events with the same key arrive in publish order, where the transport promises it.
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class TransportConformanceTest {
  private static final Duration AWAIT = Duration.ofSeconds(90);

  private PGSimpleDataSource db;
  private Transport transport;
  private final List<Subscription> subscriptions = new ArrayList<>();

  /** Builds the transport under test (called once per test; closed after it). */
  protected abstract Transport createTransport();

  /**
   * Prepares a destination nobody has used yet, ready for publishing and subscribing (a topic, an
   * exchange with its topology, a stream), and returns its name.
   */
  protected abstract String newDestination(String hint);

  /**
   * Restarts the broker, keeping its data; returns when it accepts connections again. The default
   * skips the tests that need it.
   */
  protected void restartBroker() throws Exception {
    Assumptions.abort(getClass().getSimpleName() + " cannot restart its broker");
  }

  /** Whether the transport promises per-key ordering to a single consumer. */
  protected boolean promisesPerKeyOrder() {
    return true;
  }

  /** The subscription spec for a destination; override to add transport options. */
  protected SubscriptionSpec spec(String destination) {
    return SubscriptionSpec.of(destination);
  }

  @BeforeAll
  void createSchema() throws SQLException {
    db = TestDatabase.shared().freshSchema("conformance");
    Schema.migrate(db, CourierTables.DEFAULT);
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE effects (n BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL, event_key TEXT, body TEXT)");
    }
  }

  @AfterAll
  void dropSchema() {
    if (db != null) {
      TestDatabase.shared().dropSchema(db);
    }
  }

  @BeforeEach
  void openTransport() {
    transport = createTransport();
  }

  @AfterEach
  void closeAll() {
    for (Subscription s : subscriptions) {
      try {
        s.close();
      } catch (RuntimeException ignored) {
        // already crashed or stopped
      }
    }
    subscriptions.clear();
    if (transport != null) {
      transport.close();
    }
  }

  /** The transport under test, for subclasses' own tests. */
  protected final Transport transport() {
    return transport;
  }

  /** The database the suite's consumers write to. */
  protected final PGSimpleDataSource database() {
    return db;
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void confirmedPublish_isDeliveredAndAppliedOnce() throws Exception {
    String dest = newDestination("delivered");
    List<Event> events = events(dest, 30, 3);
    publishConfirmed(events);
    Consumer consumer = consumer("delivered", recordingHandler());
    Subscription s = subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    awaitEffects(consumer.name, events);
    assertExactlyOneEffectEach(consumer.name, events);
    assertThat(s.state()).isEqualTo(Subscription.State.RUNNING);

    s.close();
    assertThat(s.state()).as("after close()").isEqualTo(Subscription.State.STOPPED);
    assertThat(s.isRunning()).isFalse();
    assertThat(s.failure()).as("a graceful stop is no failure").isEmpty();
  }

  @Test
  void confirmedPublish_survivesABrokerRestart() throws Exception {
    String dest = newDestination("durable");
    List<Event> events = events(dest, 20, 2);
    publishConfirmed(events);
    restartBroker();
    transport.close();
    transport = createTransport();
    Consumer consumer = consumer("durable", recordingHandler());
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    awaitEffects(consumer.name, events);
    assertExactlyOneEffectEach(consumer.name, events);
  }

  @Test
  void crashAfterCommitBeforeAck_redeliversAndTheLedgerDedupes() throws Exception {
    String dest = newDestination("crash-before-ack");
    List<Event> events = events(dest, 10, 1);
    publishConfirmed(events);
    Consumer consumer = consumer("crash-before-ack", recordingHandler());
    UUID victim = events.get(4).id();
    AtomicBoolean crashed = new AtomicBoolean();
    Subscription first =
        subscribe(
            dest,
            consumer,
            e -> {
              if (e.id().equals(victim) && crashed.compareAndSet(false, true)) {
                throw new SubscriptionSpec.SimulatedCrash("crash after commit, before ack");
              }
            });
    await("the first subscription crashes", () -> first.state() == Subscription.State.CRASHED);
    assertThat(first.failure()).get().isInstanceOf(SubscriptionSpec.SimulatedCrash.class);
    assertThat(effectCount(consumer.name, victim)).as("the effect committed before the crash").isEqualTo(1);

    List<UUID> hooked = new CopyOnWriteArrayList<>();
    subscribe(dest, consumer, e -> hooked.add(e.id()));
    awaitEffects(consumer.name, events);
    await("the redelivered event is recognised as a duplicate", () -> consumer.dedupeHits() >= 1);
    assertExactlyOneEffectEach(consumer.name, events);
    await("the after-commit hook runs for the duplicate too", () -> hooked.contains(victim));
  }

  /**
   * An after-commit hook that fails with an ordinary exception stops the subscription as a crash
   * would, on every broker: nothing is acknowledged after it, and the next subscriber gets the event
   * again and recognises it.
   */
  @Test
  void afterCommitHookThatThrows_crashesTheSubscription_andTheEventIsRedeliveredAndDeduped()
      throws Exception {
    String dest = newDestination("hook-throws");
    List<Event> events = events(dest, 4, 1);
    publishConfirmed(events);
    Consumer consumer = consumer("hook-throws", recordingHandler());
    UUID victim = events.get(1).id();
    AtomicBoolean thrown = new AtomicBoolean();
    IllegalStateException failure = new IllegalStateException("metrics sink unavailable");
    Subscription first =
        subscribe(
            dest,
            consumer,
            e -> {
              if (e.id().equals(victim) && thrown.compareAndSet(false, true)) {
                throw failure;
              }
            });
    await("the subscription crashes", () -> first.state() == Subscription.State.CRASHED);
    assertThat(first.failure()).containsSame(failure);

    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    awaitEffects(consumer.name, events);
    await("the redelivered event is recognised as a duplicate", () -> consumer.dedupeHits() >= 1);
    assertExactlyOneEffectEach(consumer.name, events);
  }

  @Test
  void ackNeverPrecedesTheCommit_aConsumerDyingInsideTheHandlerGetsTheEventAgain() throws Exception {
    String dest = newDestination("die-before-commit");
    List<Event> events = events(dest, 5, 1);
    UUID victim = events.get(2).id();
    CountDownLatch inHandler = new CountDownLatch(1);
    CountDownLatch crashDone = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    EventHandler recording = recordingHandler();
    Consumer consumer =
        consumer(
            "die-before-commit",
            (event, connection) -> {
              if (event.id().equals(victim) && first.compareAndSet(true, false)) {
                inHandler.countDown();
                crashDone.await(AWAIT.toSeconds(), TimeUnit.SECONDS);
                // the process "died" here: this attempt's transaction never commits
                throw new IllegalStateException("process died before commit");
              }
              recording.handle(event, connection);
            });
    publishConfirmed(events);
    Subscription sub = subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    assertThat(inHandler.await(AWAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    sub.crash();
    crashDone.countDown();
    await("the crashed subscription stops", () -> !sub.isRunning());
    assertThat(sub.state()).isEqualTo(Subscription.State.CRASHED);

    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    awaitEffects(consumer.name, events);
    assertExactlyOneEffectEach(consumer.name, events);
  }

  /**
   * The replay headers of a history replay to one consumer cross the real broker: the addressed
   * consumer sees both and applies the event under the replay's ledger id, although its ledger
   * holds the event id from the first delivery; an event addressed to another consumer is
   * acknowledged unhandled (no effect, no ledger row, no dead letter) and the stream goes on.
   */
  @Test
  void replayHeaders_crossTheBroker_andAddressOneConsumer() throws Exception {
    String dest = newDestination("replay");
    Map<UUID, Map<String, String>> seen = new java.util.concurrent.ConcurrentHashMap<>();
    EventHandler recording = recordingHandler();
    Consumer consumer =
        consumer(
            "replay",
            (event, connection) -> {
              seen.put(event.id(), event.headers());
              recording.handle(event, connection);
            });
    List<Event> plain = events(dest, 3, 1);
    Event first = plain.get(0);
    Event toUs =
        Event.builder(first.type())
            .id(first.id())
            .destination(dest)
            .key(first.key())
            .payload(first.payload())
            .header(ReceivedMessage.REPLAY_CONSUMER, consumer.name)
            .header(ReceivedMessage.REPLAY_ID, "conformance-fix-1")
            .build(Instant.now());
    Event toOther =
        Event.builder(first.type())
            .destination(dest)
            .key(first.key())
            .payload("for another consumer")
            .header(ReceivedMessage.REPLAY_CONSUMER, "someone-else")
            .header(ReceivedMessage.REPLAY_ID, "conformance-fix-2")
            .build(Instant.now());
    Event after = plain.get(1);
    publishConfirmed(List.of(first, toOther, toUs, after));
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);

    await("the event, its replay and the event after them applied", () -> effectCount(consumer.name, first.id()) == 2
        && effectCount(consumer.name, after.id()) == 1);
    assertThat(seen.get(first.id()))
        .containsEntry(ReceivedMessage.REPLAY_CONSUMER, consumer.name)
        .containsEntry(ReceivedMessage.REPLAY_ID, "conformance-fix-1");
    assertThat(effectCount(consumer.name, toOther.id())).as("addressed to another consumer").isZero();
    assertThat(seen).doesNotContainKey(toOther.id());
    assertThat(deadLetter(consumer.name, toOther.id())).isNull();
    assertThat(ledgerRows(consumer.name, toOther.id())).isZero();
    assertThat(ledgerRows(consumer.name, IdempotentProcessor.replayLedgerId(first.id(), "conformance-fix-1")))
        .isEqualTo(1);
  }

  private int ledgerRows(String consumer, UUID ledgerId) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM courier_processed_events WHERE consumer = ? AND event_id = ?")) {
      ps.setString(1, consumer);
      ps.setObject(2, ledgerId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  @Test
  void poisonEvent_isDeadLetteredAndTheStreamGoesOn() throws Exception {
    String dest = newDestination("poison");
    List<Event> events = events(dest, 6, 1);
    UUID poison = events.get(1).id();
    EventHandler recording = recordingHandler();
    Consumer consumer =
        consumer(
            "poison",
            (event, connection) -> {
              if (event.id().equals(poison)) {
                throw new PoisonEventException("order refers to an unknown customer");
              }
              recording.handle(event, connection);
            });
    publishConfirmed(events);
    List<UUID> hooked = new CopyOnWriteArrayList<>();
    subscribe(dest, consumer, e -> hooked.add(e.id()));
    List<Event> healthy = events.stream().filter(e -> !e.id().equals(poison)).toList();
    awaitEffects(consumer.name, healthy);
    await("the poison event is dead-lettered", () -> deadLetter(consumer.name, poison) != null);
    await("the after-commit hook runs for the dead letter too", () -> hooked.contains(poison));
    assertThat(deadLetter(consumer.name, poison)).containsEntry("reason", "POISON").containsEntry("attempts", "1");
    assertThat(effectCount(consumer.name, poison)).isZero();
  }

  @Test
  void failingHandler_isRetriedWithBackoffThenDeadLettered() throws Exception {
    String dest = newDestination("retries");
    List<Event> events = events(dest, 4, 1);
    UUID failing = events.get(0).id();
    EventHandler recording = recordingHandler();
    Consumer consumer =
        consumer(
            "retries",
            (event, connection) -> {
              recording.handle(event, connection); // written, then rolled back by the throw
              if (event.id().equals(failing)) {
                throw new IllegalStateException("downstream unavailable");
              }
            });
    publishConfirmed(events);
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    await("the failing event is dead-lettered", () -> deadLetter(consumer.name, failing) != null);
    awaitEffects(consumer.name, events.subList(1, events.size()));
    Map<String, String> dl = deadLetter(consumer.name, failing);
    assertThat(dl).containsEntry("reason", "HANDLER_FAILED").containsEntry("attempts", "3");
    assertThat(dl.get("error_message")).contains("downstream unavailable");
    assertThat(effectCount(consumer.name, failing)).as("every failed attempt rolled back").isZero();
  }

  @Test
  void aPausedConsumer_takesNothing_untilResumed_thenAppliesEveryEventOnce() throws Exception {
    String dest = newDestination("paused");
    List<Event> events = events(dest, 10, 2);
    Consumer consumer = consumer("paused", recordingHandler());
    ConsumerPauses pauses = new ConsumerPauses(db, CourierTables.DEFAULT, java.time.Clock.systemUTC());
    pauses.pause(consumer.name, new Attribution("conformance", "paused before its first delivery"), false);
    publishConfirmed(events);
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    Thread.sleep(2_000); // the deliveries arrive, and are refused

    for (Event e : events) {
      assertThat(effectCount(consumer.name, e.id())).as("nothing applied while paused").isZero();
      assertThat(deadLetter(consumer.name, e.id())).as("nothing dead-lettered while paused").isNull();
    }
    pauses.resume(consumer.name, new Attribution("conformance", "resumed"));

    awaitEffects(consumer.name, events);
    assertExactlyOneEffectEach(consumer.name, events);
  }

  @Test
  void brokerRestartMidStream_losesNothing() throws Exception {
    String dest = newDestination("restart-mid-stream");
    List<Event> before = events(dest, 20, 2);
    List<Event> after = events(dest, 20, 2);
    Consumer consumer = consumer("restart-mid-stream", recordingHandler());
    publishConfirmed(before);
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    restartBroker();
    publishConfirmed(after);
    List<Event> all = new ArrayList<>(before);
    all.addAll(after);
    if (subscriptions.stream().noneMatch(Subscription::isRunning)) {
      // a transport may end its subscription on a lost connection; a new one must resume
      subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    }
    awaitEffects(consumer.name, all);
    assertExactlyOneEffectEach(consumer.name, all);
  }

  @Test
  void eventsOfOneKey_arriveInPublishOrder() throws Exception {
    Assumptions.assumeTrue(promisesPerKeyOrder(), "this transport does not promise per-key order");
    String dest = newDestination("ordering");
    List<Event> events = events(dest, 60, 4);
    publishConfirmed(events.subList(0, 30));
    publishConfirmed(events.subList(30, 60));
    Consumer consumer = consumer("ordering", recordingHandler());
    subscribe(dest, consumer, SubscriptionSpec.AfterCommitHook.NONE);
    awaitEffects(consumer.name, events);
    Map<String, List<Integer>> perKey = new HashMap<>();
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT event_key, body FROM effects WHERE event_id = ANY(?) ORDER BY n")) {
      ps.setArray(1, c.createArrayOf("uuid", events.stream().map(Event::id).toArray()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          perKey.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(Integer.parseInt(rs.getString(2)));
        }
      }
    }
    assertThat(perKey).hasSize(4);
    perKey.forEach((key, seqs) -> assertThat(seqs).as("order of key %s", key).isSorted());
  }

  // ---------------------------------------------------------------------------------------------

  /** A consumer under test: its name, its processor and its meters. */
  protected final class Consumer {
    final String name;
    final IdempotentProcessor processor;
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    Consumer(String hint, EventHandler handler) {
      this.name = hint + "-" + UUID.randomUUID().toString().substring(0, 8);
      this.processor =
          IdempotentProcessor.builder(name, db, handler)
              .retryPolicy(
                  RetryPolicy.builder()
                      .maxAttempts(3)
                      .initialDelay(Duration.ofMillis(50))
                      .maxDelay(Duration.ofMillis(200))
                      .build())
              .meterRegistry(meters)
              .build();
    }

    double dedupeHits() {
      var c = meters.find("courier.consumer.dedupe.hits").counter();
      return c == null ? 0 : c.count();
    }
  }

  protected Consumer consumer(String hint, EventHandler handler) {
    return new Consumer(hint, handler);
  }

  protected Subscription subscribe(String destination, Consumer consumer, SubscriptionSpec.AfterCommitHook hook) {
    Subscription s = transport.subscribe(spec(destination).withAfterCommit(hook), consumer.processor);
    subscriptions.add(s);
    return s;
  }

  /** A handler that records each event in {@code effects}; the body is the event's position in its key. */
  protected EventHandler recordingHandler() {
    return (event, connection) -> {
      try (PreparedStatement ps =
          connection.prepareStatement("INSERT INTO effects (event_id, event_key, body) VALUES (?, ?, ?)")) {
        ps.setObject(1, event.id());
        ps.setString(2, event.key());
        ps.setString(3, new String(event.payload(), StandardCharsets.UTF_8));
        ps.executeUpdate();
      }
    };
  }

  /** {@code count} events over {@code keys} keys; each payload is the event's position in its key. */
  protected static List<Event> events(String destination, int count, int keys) {
    List<Event> out = new ArrayList<>(count);
    int[] perKey = new int[keys];
    String run = UUID.randomUUID().toString().substring(0, 6);
    for (int i = 0; i < count; i++) {
      int k = i % keys;
      out.add(
          Event.builder("ConformanceChecked")
              .destination(destination)
              .key("key-" + run + "-" + k)
              .payload(Integer.toString(perKey[k]++))
              .correlationId("corr-" + run)
              .build(Instant.now()));
    }
    return out;
  }

  /** Publishes, retrying unconfirmed events (as the relay would) until all are confirmed. */
  protected void publishConfirmed(List<Event> events) throws InterruptedException {
    List<Event> pending = new ArrayList<>(events);
    long deadline = System.nanoTime() + AWAIT.toNanos();
    Throwable last = null;
    while (!pending.isEmpty()) {
      List<PublishResult> results;
      try {
        results = transport.publish(pending, Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        last = e;
        results = List.of();
      }
      List<Event> next = new ArrayList<>();
      for (Event e : pending) {
        PublishResult r = results.stream().filter(x -> x.eventId().equals(e.id())).findFirst().orElse(null);
        if (!(r instanceof PublishResult.Confirmed)) {
          if (r instanceof PublishResult.Failed f) {
            last = f.error();
          }
          next.add(e);
        }
      }
      pending = next;
      if (!pending.isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(pending.size() + " events never confirmed; last error: " + last, last);
        }
        Thread.sleep(200);
      }
    }
  }

  private void awaitEffects(String consumer, List<Event> events) throws Exception {
    await(
        events.size() + " effects of " + consumer,
        () -> {
          for (Event e : events) {
            if (effectCount(consumer, e.id()) == 0) {
              return false;
            }
          }
          return true;
        });
  }

  private void assertExactlyOneEffectEach(String consumer, List<Event> events) throws SQLException {
    for (Event e : events) {
      assertThat(effectCount(consumer, e.id())).as("effects of event %s", e.id()).isEqualTo(1);
    }
  }

  /** Effects recorded for an event (event ids are unique across tests, so no consumer is needed). */
  protected int effectCount(String consumer, UUID eventId) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM effects WHERE event_id = ?")) {
      ps.setObject(1, eventId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  protected Map<String, String> deadLetter(String consumer, UUID eventId) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT reason, attempts, error_message FROM courier_dead_letters WHERE consumer = ? AND event_id = ?")) {
      ps.setString(1, consumer);
      ps.setObject(2, eventId);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        return Map.of(
            "reason", rs.getString(1), "attempts", Integer.toString(rs.getInt(2)), "error_message", String.valueOf(rs.getString(3)));
      }
    }
  }

  protected static void await(String what, CheckedCondition condition) throws Exception {
    long deadline = System.nanoTime() + AWAIT.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + AWAIT.toSeconds() + " s waiting for: " + what);
      }
      Thread.sleep(50);
    }
  }

  /** A condition that may throw. */
  @FunctionalInterface
  protected interface CheckedCondition {
    boolean holds() throws Exception;
  }
}
