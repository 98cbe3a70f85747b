package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import dev.courier.testkit.RecordingThreadFactory;
import dev.courier.testkit.SqlRows;
import dev.courier.testkit.TestClock;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The relay reads the time from the clock it is given and runs on threads from the factory it is
 * given, on a real PostgreSQL. The clock here stands years away from the wall clock, so a relay
 * that read the wall clock anywhere it decides something would claim nothing or retry at the wrong
 * time.
 */
class RelayClockAndThreadsTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Duration BACKOFF = Duration.ofHours(1);
  private static final Instant START = Instant.parse("2031-03-01T12:00:00Z");

  @RegisterExtension final RelaySchema schema = new RelaySchema("relay_injection");

  private final TestClock clock = TestClock.at(START);
  private final Broker broker = new Broker();

  @ParameterizedTest
  @EnumSource(Relay.ClaimMode.class)
  void failedPublish_isRetriedWhenTheRelaysClockReachesTheBackoff_notBefore(Relay.ClaimMode mode)
      throws Exception {
    if (mode == Relay.ClaimMode.LOG) {
      Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 2);
    }
    Event event = append(Event.builder("Step").destination("orders").key("K").payload("1"));
    broker.refuseOnce.add(event.id());
    Relay relay =
        Relay.builder(schema.db(), broker)
            .claimMode(mode)
            .relayId("clocked")
            .retryPolicy(
                RetryPolicy.builder()
                    .maxAttempts(3)
                    .initialDelay(BACKOFF)
                    .maxDelay(BACKOFF)
                    .jitter(false)
                    .build())
            .clock(clock)
            .build();
    try {
      stepUntil(relay, () -> broker.attempts(event.id()) == 1);
      assertThat(relay.lastCompletedPass()).as("the pass is dated by the relay's clock").contains(START);
      if (mode != Relay.ClaimMode.LOG) {
        assertThat(availableAt(event))
            .as("due again at the relay's time plus the backoff")
            .isEqualTo(START.plus(BACKOFF));
      }

      clock.advance(BACKOFF.minusSeconds(1));
      for (int i = 0; i < 3; i++) {
        relay.runOnce();
      }
      assertThat(broker.attempts(event.id())).as("a second before the backoff ends").isEqualTo(1);

      clock.advance(Duration.ofSeconds(1));
      stepUntil(relay, () -> broker.confirmed.contains(event.id()));
      assertThat(broker.attempts(event.id())).isEqualTo(2);
      if (mode != Relay.ClaimMode.LOG) {
        assertThat(SqlRows.row(schema.db(), "SELECT status, published_at FROM courier_outbox WHERE event_id = ?", event.id()))
            .containsEntry("status", "PUBLISHED")
            .containsEntry("published_at", Timestamp.from(START.plus(BACKOFF)));
      }
    } finally {
      relay.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Relay.ClaimMode.class)
  void startedRelay_runsItsLoopAndItsPublishersOnThreadsFromItsFactory_underTheRelaysNames(Relay.ClaimMode mode)
      throws Exception {
    if (mode == Relay.ClaimMode.LOG) {
      Schema.enableLogMode(schema.db(), CourierTables.DEFAULT, 2);
    }
    RecordingThreadFactory threads = RecordingThreadFactory.virtual();
    Event event = append(Event.builder("Step").destination("orders").key("K").payload("1"));
    Relay relay =
        Relay.builder(schema.db(), broker)
            .claimMode(mode)
            .relayId("injected")
            .batchesInFlight(1)
            .minPollInterval(Duration.ofMillis(2))
            .maxPollInterval(Duration.ofMillis(20))
            .clock(clock)
            .threadFactory(threads)
            .build();

    relay.start();
    try {
      poll(() -> broker.confirmed.contains(event.id()));
    } finally {
      relay.close();
    }

    List<String> expected = new ArrayList<>(List.of("courier-relay-injected", "courier-relay-injected-publish-1"));
    if (mode == Relay.ClaimMode.LOG) {
      expected.add("courier-relay-injected-reader"); // reads the next page ahead
    }
    assertThat(threads.names()).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(broker.threads)
        .as("every publish ran on a thread from the factory")
        .isNotEmpty()
        .allSatisfy(t -> assertThat(threads.made(t)).isTrue())
        .allSatisfy(t -> assertThat(t.isVirtual()).isTrue());
    // a pool's last worker is still returning when its executor reports termination
    poll(() -> threads.threads().stream().noneMatch(Thread::isAlive));
  }

  @Test
  void factoryThatReturnsNoThread_failsTheStart_andLeavesTheRelayUnstarted() {
    Relay relay = Relay.builder(schema.db(), broker).threadFactory(task -> null).build();

    assertThatThrownBy(relay::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("returned no thread");
    assertThat(relay.state()).isEqualTo(Relay.State.NEW);
    relay.close();
    assertThat(relay.state()).isEqualTo(Relay.State.STOPPED);
  }

  /** Appends through an outbox on the test's clock, so that the row is due at that time. */
  private Event append(Event.Builder event) throws SQLException {
    Outbox outbox = Outbox.builder().clock(clock).build();
    try (Connection c = schema.db().getConnection()) {
      c.setAutoCommit(false);
      Event appended = outbox.append(c, event);
      c.commit();
      return appended;
    }
  }

  private Instant availableAt(Event e) {
    Map<String, Object> row =
        SqlRows.row(schema.db(), "SELECT available_at FROM courier_outbox WHERE event_id = ?", e.id());
    return ((Timestamp) row.get("available_at")).toInstant();
  }

  /** Runs passes until the condition holds (a log-mode relay first takes its partitions). */
  private static void stepUntil(Relay relay, BooleanSupplier done) {
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
      Thread.sleep(10);
    }
  }

  /** Confirms every event except the first attempt of those in {@link #refuseOnce}; records the threads it ran on. */
  private static final class Broker implements Transport {
    final Set<UUID> refuseOnce = ConcurrentHashMap.newKeySet();
    final Set<UUID> confirmed = ConcurrentHashMap.newKeySet();
    final List<UUID> attempted = new CopyOnWriteArrayList<>();
    final List<Thread> threads = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
      return "recording";
    }

    @Override
    public List<PublishResult> publish(List<Event> batch, Duration timeout) {
      threads.add(Thread.currentThread());
      List<PublishResult> results = new ArrayList<>(batch.size());
      for (Event e : batch) {
        attempted.add(e.id());
        if (refuseOnce.remove(e.id())) {
          results.add(new PublishResult.Failed(e.id(), new IllegalStateException("refused by the test broker"), true));
        } else {
          confirmed.add(e.id());
          results.add(new PublishResult.Confirmed(e.id(), "test", false));
        }
      }
      return results;
    }

    long attempts(UUID id) {
      return attempted.stream().filter(id::equals).count();
    }
  }
}
