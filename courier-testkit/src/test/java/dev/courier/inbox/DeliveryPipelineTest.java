package dev.courier.inbox;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.PoisonEventException;
import dev.courier.admin.Attribution;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.inbox.DeliveryPipeline.Redelivery;
import dev.courier.inbox.DeliveryPipeline.Settlement;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Decoded;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The delivery pipeline every transport's consumer runs: what it asks the broker to do for each
 * outcome, when the after-commit hook runs, and how it rides out a database it cannot write to.
 * Against the real PostgreSQL; the broker's side is the recording {@link Acks} below, the one
 * interface a transport implements.
 */
class DeliveryPipelineTest {
  private static final TestDatabase DB = TestDatabase.shared();
  private static final String DESTINATION = "orders";

  private PGSimpleDataSource db;
  private final SubscriptionLifecycle lifecycle = new SubscriptionLifecycle();
  private final List<UUID> hooked = new CopyOnWriteArrayList<>();
  private final AtomicReference<Throwable> crashed = new AtomicReference<>();
  private SubscriptionSpec.AfterCommitHook hook = e -> hooked.add(e.id());

  @BeforeEach
  void setUp() throws SQLException {
    db = DB.freshSchema("pipeline");
    Schema.migrate(db, CourierTables.DEFAULT);
    exec("CREATE TABLE effects (event_id UUID NOT NULL)");
    lifecycle.started();
  }

  @AfterEach
  void tearDown() {
    DB.dropSchema(db);
  }

  @Test
  void anAppliedEvent_runsTheHookAfterItsCommit_thenIsAcknowledged() throws Exception {
    Event event = event("Good");
    List<Integer> effectsSeenByHook = new ArrayList<>();
    hook =
        e -> {
          try {
            effectsSeenByHook.add(count("SELECT count(*) FROM effects"));
          } catch (SQLException x) {
            throw new IllegalStateException(x);
          }
        };
    Acks acks = new Acks(true);

    Settlement s = pipeline(processor(3)).deliver(decodable(event), 1, "orders-0@1", acks);

    assertThat(s).isEqualTo(Settlement.ACKNOWLEDGED);
    assertThat(acks.calls).containsExactly("acknowledge");
    assertThat(effectsSeenByHook).as("the hook sees the committed effect").containsExactly(1);
  }

  @Test
  void aDuplicate_isAcknowledgedAndRunsTheHook_withoutApplyingAgain() throws Exception {
    Event event = event("Good");
    DeliveryPipeline pipeline = pipeline(processor(3));
    pipeline.deliver(decodable(event), 1, "orders-0@1", new Acks(true));
    Acks again = new Acks(true);

    assertThat(pipeline.deliver(decodable(event), 2, "orders-0@1", again)).isEqualTo(Settlement.ACKNOWLEDGED);

    assertThat(again.calls).containsExactly("acknowledge");
    assertThat(hooked).containsExactly(event.id(), event.id());
    assertThat(count("SELECT count(*) FROM effects")).isEqualTo(1);
  }

  @Test
  void aPoisonEvent_isDeadLettered_thenTerminated_andRunsTheHook() throws Exception {
    Event event = event("Bad");
    Acks acks = new Acks(true);

    assertThat(pipeline(processor(3)).deliver(decodable(event), 1, "orders-0@1", acks)).isEqualTo(Settlement.TERMINATED);

    assertThat(acks.calls).containsExactly("terminate");
    assertThat(hooked).containsExactly(event.id());
    assertThat(count("SELECT count(*) FROM courier_dead_letters WHERE reason = 'POISON'")).isEqualTo(1);
  }

  @Test
  void aMalformedMessage_isDeadLetteredAndTerminated_withoutTheHook() throws Exception {
    Decoded.Undecodable malformed =
        new Decoded.Undecodable(
            null, DeadLetterReason.MALFORMED, new InvalidEventException("no event id"), Map.of("h", "v"), new byte[] {1, 2});
    Acks acks = new Acks(true);

    assertThat(pipeline(processor(3)).deliver(malformed, 1, "orders-0@7", acks)).isEqualTo(Settlement.TERMINATED);

    assertThat(acks.calls).containsExactly("terminate");
    assertThat(hooked).isEmpty();
    assertThat(count("SELECT count(*) FROM courier_dead_letters WHERE reason = 'MALFORMED'")).isEqualTo(1);
  }

  @Test
  void aFailingHandler_isHandedBackForARedelivery_withItsAttemptCounted() {
    Acks acks = new Acks(true);

    Settlement s = pipeline(processor(3)).deliver(decodable(event("Flaky")), 1, "orders-0@1", acks);

    assertThat(s).isEqualTo(Settlement.REDELIVERING);
    assertThat(acks.redeliveries).singleElement().satisfies(r -> {
      assertThat(r.outage()).isFalse();
      assertThat(r.failedAttempts()).isEqualTo(1);
      assertThat(r.delay()).isPositive();
    });
    assertThat(hooked).isEmpty();
  }

  @Test
  void whereTheBrokerWillNotRedeliver_aFailingHandlerIsRetriedInPlace_untilItsLastAttemptIsDeadLettered() throws Exception {
    Event event = event("Flaky");
    Acks acks = new Acks(false);

    Settlement s = pipeline(processor(3)).deliver(decodable(event), 1, "queue", acks);

    assertThat(s).isEqualTo(Settlement.TERMINATED);
    assertThat(acks.calls).containsExactly("terminate");
    assertThat(acks.redeliveries).isEmpty();
    assertThat(count("SELECT attempts FROM courier_dead_letters WHERE reason = 'HANDLER_FAILED'")).isEqualTo(3);
  }

  @Test
  void whenNothingCanBeRecorded_theDeliveryComesBackWithoutUsingAnAttempt_afterABackoffThatGrows() throws Exception {
    IdempotentProcessor processor = processor(3);
    DeliveryPipeline pipeline = pipeline(processor);
    pauseConsumer(); // a paused consumer's processor refuses every delivery, as in a database outage
    Acks acks = new Acks(true);

    pipeline.deliver(decodable(event("Good")), 2, "orders-0@1", acks);
    pipeline.deliver(decodable(event("Good")), 1, "orders-0@2", acks);
    pipeline.deliver(decodable(event("Good")), 1, "orders-0@3", acks);

    assertThat(acks.calls).containsExactly("redeliver", "redeliver", "redeliver");
    assertThat(acks.redeliveries).allSatisfy(r -> assertThat(r.outage()).isTrue());
    assertThat(acks.redeliveries.get(0).failedAttempts()).as("attempt 2 came back as attempt 2").isEqualTo(1);
    assertThat(acks.redeliveries).extracting(Redelivery::delay)
        .containsExactly(Duration.ofMillis(200), Duration.ofMillis(400), Duration.ofMillis(800));
    assertThat(count("SELECT count(*) FROM courier_dead_letters")).isZero();

    resumeConsumer();
    Acks after = new Acks(true);
    awaitSettled(() -> pipeline.deliver(decodable(event("Good")), 1, "orders-0@4", after), after);
    Acks next = new Acks(true);
    pauseConsumerAndWaitForIt(pipeline);
    pipeline.deliver(decodable(event("Good")), 1, "orders-0@5", next);
    assertThat(next.redeliveries).extracting(Redelivery::delay)
        .as("a success starts the backoff over")
        .containsExactly(Duration.ofMillis(200));
  }

  @Test
  void whereTheBrokerWillNotRedeliver_anUnrecordableDeliveryIsHeld_untilTheDatabaseTakesIt() throws Exception {
    DeliveryPipeline pipeline = pipeline(processor(3));
    pauseConsumer();
    Acks acks = new Acks(false);
    Event event = event("Good");

    CompletableFuture<Settlement> settled =
        CompletableFuture.supplyAsync(() -> pipeline.deliver(decodable(event), 1, "queue", acks));
    Thread.sleep(700);
    assertThat(settled).as("still held").isNotDone();
    resumeConsumer();

    assertThat(settled.get(10, TimeUnit.SECONDS)).isEqualTo(Settlement.ACKNOWLEDGED);
    assertThat(acks.calls).containsExactly("acknowledge");
    assertThat(count("SELECT count(*) FROM effects")).isEqualTo(1);
  }

  @Test
  void aHeldDelivery_isAbandonedUnacknowledged_whenTheSubscriptionStops() throws Exception {
    DeliveryPipeline pipeline = pipeline(processor(3));
    pauseConsumer();
    Acks acks = new Acks(false);

    CompletableFuture<Settlement> settled =
        CompletableFuture.supplyAsync(() -> pipeline.deliver(decodable(event("Good")), 1, "queue", acks));
    Thread.sleep(300);
    lifecycle.stop();

    assertThat(settled.get(5, TimeUnit.SECONDS)).isEqualTo(Settlement.ABANDONED);
    assertThat(acks.calls).isEmpty();
  }

  @Test
  void aHookThatThrows_crashesTheSubscription_andNothingIsAcknowledged() throws Exception {
    IllegalStateException boom = new IllegalStateException("hook failed");
    hook = e -> { throw boom; };
    Acks acks = new Acks(true);

    Settlement s = pipeline(processor(3)).deliver(decodable(event("Good")), 1, "orders-0@1", acks);

    assertThat(s).isEqualTo(Settlement.ABANDONED);
    assertThat(acks.calls).isEmpty();
    assertThat(crashed.get()).isSameAs(boom);
    assertThat(count("SELECT count(*) FROM effects")).as("the effect committed before the hook").isEqualTo(1);
  }

  @Test
  void afterACrash_aCommittedOutcomeIsNotAcknowledged() throws Exception {
    lifecycle.crash(new SubscriptionSpec.SimulatedCrash("killed"));
    Acks acks = new Acks(true);

    Settlement s = pipeline(processor(3)).deliver(decodable(event("Good")), 1, "orders-0@1", acks);

    assertThat(s).isEqualTo(Settlement.ABANDONED);
    assertThat(acks.calls).isEmpty();
    assertThat(hooked).isEmpty();
    assertThat(lifecycle.state()).isEqualTo(Subscription.State.CRASHED);
  }

  @Test
  void aGracefulStop_stillAcknowledgesTheDeliveryInHand() {
    lifecycle.stop();
    Acks acks = new Acks(true);

    assertThat(pipeline(processor(3)).deliver(decodable(event("Good")), 1, "orders-0@1", acks))
        .isEqualTo(Settlement.ACKNOWLEDGED);
    assertThat(lifecycle.state()).isEqualTo(Subscription.State.STOPPING);
  }

  @Test
  void theLifecycle_movesOnlyForward() {
    SubscriptionLifecycle l = new SubscriptionLifecycle();
    assertThat(l.reconnecting()).as("not running yet").isFalse();
    assertThat(l.started()).isTrue();
    assertThat(l.reconnecting()).isTrue();
    assertThat(l.isRunning()).isTrue();
    assertThat(l.reconnected()).isTrue();
    assertThat(l.stop()).isTrue();
    assertThat(l.stop()).as("once").isFalse();
    assertThat(l.started()).isFalse();
    assertThat(l.await(Duration.ofSeconds(5))).as("a stopped lifecycle does not wait").isFalse();
    l.stopped();
    assertThat(l.state()).isEqualTo(Subscription.State.STOPPED);
    assertThat(l.crash(new IllegalStateException("late"))).as("a stopped subscription cannot crash").isFalse();
    assertThat(l.failure()).isEmpty();

    SubscriptionLifecycle failing = new SubscriptionLifecycle();
    failing.started();
    IllegalStateException why = new IllegalStateException("queue deleted");
    assertThat(failing.fail(why)).isTrue();
    failing.stopped();
    assertThat(failing.state()).as("stopped() never undoes a failure").isEqualTo(Subscription.State.FAILED);
    assertThat(failing.failure()).containsSame(why);
  }

  // ---------------------------------------------------------------------------------------------

  /** The transport's side, recorded. */
  private static final class Acks implements DeliveryPipeline.Acknowledger {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final List<Redelivery> redeliveries = new CopyOnWriteArrayList<>();
    private final boolean redeliverable;

    Acks(boolean redeliverable) {
      this.redeliverable = redeliverable;
    }

    @Override
    public void acknowledge() {
      calls.add("acknowledge");
    }

    @Override
    public void terminate() {
      calls.add("terminate");
    }

    @Override
    public void redeliver(Redelivery redelivery) {
      calls.add("redeliver");
      redeliveries.add(redelivery);
    }

    @Override
    public boolean redeliverable() {
      return redeliverable;
    }
  }

  private DeliveryPipeline pipeline(IdempotentProcessor processor) {
    return new DeliveryPipeline(
        processor, SubscriptionSpec.of(DESTINATION).withAfterCommit(e -> hook.afterCommit(e)), lifecycle, crashed::set);
  }

  private IdempotentProcessor processor(int maxAttempts) {
    return IdempotentProcessor.builder(
            "billing",
            db,
            (event, c) -> {
              switch (event.type()) {
                case "Bad" -> throw new PoisonEventException("bad order");
                case "Flaky" -> throw new IllegalStateException("downstream unavailable");
                default -> {
                  try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects (event_id) VALUES (?)")) {
                    ps.setObject(1, event.id());
                    ps.executeUpdate();
                  }
                }
              }
            })
        .retryPolicy(
            RetryPolicy.builder()
                .maxAttempts(maxAttempts)
                .initialDelay(Duration.ofMillis(20))
                .maxDelay(Duration.ofMillis(40))
                .jitter(false)
                .build())
        .build();
  }

  private static Event event(String type) {
    return Event.builder(type).destination(DESTINATION).key("k").payload("{}").build(Instant.now());
  }

  private static Decoded decodable(Event event) {
    return new Decoded.Decodable(event);
  }

  private void pauseConsumer() {
    new ConsumerPauses(db, CourierTables.DEFAULT, java.time.Clock.systemUTC())
        .pause("billing", new Attribution("test", "simulated outage"), false);
  }

  private void resumeConsumer() {
    new ConsumerPauses(db, CourierTables.DEFAULT, java.time.Clock.systemUTC())
        .resume("billing", new Attribution("test", "outage over"));
  }

  /** Pauses again and waits until the processor has read the pause (it reads it at most once a check interval). */
  private void pauseConsumerAndWaitForIt(DeliveryPipeline pipeline) throws InterruptedException {
    pauseConsumer();
    Thread.sleep(IdempotentProcessor.PAUSE_CHECK_INTERVAL.toMillis() + 100);
  }

  private interface Delivery {
    Settlement deliver();
  }

  /** Delivers until the pipeline acknowledges, as a broker redelivering a returned message would. */
  private static void awaitSettled(Delivery delivery, Acks acks) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (delivery.deliver() != Settlement.ACKNOWLEDGED) {
      assertThat(System.nanoTime()).as("acknowledged within 10 s; calls " + acks.calls).isLessThan(deadline);
      Thread.sleep(100);
    }
  }

  private int count(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }
}
