package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.EventLog;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.RecordingThreadFactory;
import dev.courier.testkit.TestClock;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * Consuming from a real RabbitMQ into a real PostgreSQL: acks only after the commit, redelivery
 * after a crash absorbed by the ledger, dead letters, delayed retries, and failures that must not
 * go unnoticed.
 */
class RabbitMqSubscriptionTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static TestSchema db;

  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final MeterRegistry registry = new SimpleMeterRegistry();
  private Connection admin;
  private RabbitMqTransport transport;

  @BeforeAll
  static void createSchema() {
    TestRabbit.require();
    db = new TestSchema("rabbitmq_subscription");
  }

  @AfterAll
  static void dropSchema() {
    if (db != null) {
      db.close();
    }
  }

  @BeforeEach
  void connect() {
    admin = TestRabbit.admin();
    transport = TestRabbit.transport().build();
    closeables.add(transport);
  }

  @AfterEach
  void cleanUp() throws Exception {
    db.databaseDown(false);
    for (AutoCloseable c : closeables.reversed()) {
      c.close();
    }
    cleanup.close();
    admin.close();
  }

  private String consumerName(String hint) {
    return hint + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** A destination with the consumer's queue declared, so that publishing to it is routable. */
  private String destination(String hint, String consumer) {
    String destination = cleanup.destination(TestRabbit.uniqueDestination(hint));
    cleanup.queue(transport.declareTopology(destination, consumer));
    return destination;
  }

  private List<Event> publish(String destination, int count) {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      events.add(TestSchema.event(destination, "key-" + (i % 3), "n" + i).build(Instant.now()));
    }
    assertThat(transport.publish(events, Duration.ofSeconds(10))).allMatch(r -> r instanceof PublishResult.Confirmed);
    return events;
  }

  private RabbitMqSubscription subscribe(String destination, IdempotentProcessor processor, SubscriptionSpec.AfterCommitHook hook) {
    RabbitMqSubscription s = transport.subscribe(SubscriptionSpec.of(destination).withAfterCommit(hook), processor);
    closeables.add(s);
    return s;
  }

  private IdempotentProcessor recording(String consumer) {
    return db.processor(consumer, TestSchema.recordingEffect(consumer), registry);
  }

  @Test
  void subscription_appliesEachEventOnce_andAcksItOnlyAfterTheEffectIsCommitted() {
    String consumer = consumerName("ack-after-commit");
    String destination = destination("ack-after-commit", consumer);
    String queue = RabbitMqTransport.queueName(destination, consumer);
    List<Event> events = publish(destination, 12);
    List<String> violations = new CopyOnWriteArrayList<>();
    AtomicBoolean sawCommittedBeforeAck = new AtomicBoolean();

    RabbitMqSubscription subscription =
        subscribe(
            destination,
            recording(consumer),
            event -> {
              // between commit and ack: the effect is visible to others, the message is not acked
              if (db.effects(consumer, event.id()) != 1) {
                violations.add("effect of " + event.id() + " not committed before the ack");
              }
              sawCommittedBeforeAck.set(true);
            });

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 12);
    await().atMost(WAIT).until(() -> subscription.received() == 12);
    assertThat(violations).isEmpty();
    assertThat(sawCommittedBeforeAck).isTrue();
    for (Event e : events) {
      assertThat(db.effects(consumer, e.id())).isEqualTo(1);
    }
    subscription.close();
    assertThat(subscription.state()).isEqualTo(Subscription.State.STOPPED);
    assertThat(TestRabbit.ready(admin, queue)).as("every message was acked, none returns").isZero();
  }

  @Test
  void crashBetweenCommitAndAck_redeliversTheEvent_whichTheLedgerCountsAsADuplicate_leavingOneEffect() {
    String consumer = consumerName("crash");
    String destination = destination("crash", consumer);
    List<Event> events = publish(destination, 5);
    Event victim = events.get(2);
    IdempotentProcessor processor = recording(consumer);

    RabbitMqSubscription first =
        subscribe(
            destination,
            processor,
            event -> {
              if (event.id().equals(victim.id())) {
                throw new SubscriptionSpec.SimulatedCrash("killed between commit and ack");
              }
            });
    await().atMost(WAIT).until(() -> !first.isRunning());
    assertThat(first.state()).isEqualTo(Subscription.State.CRASHED);
    assertThat(db.effects(consumer, victim.id())).as("committed before the crash").isEqualTo(1);

    RabbitMqSubscription second = subscribe(destination, processor, SubscriptionSpec.AfterCommitHook.NONE);

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 5 && TestSchema.dedupeHits(registry, consumer) >= 1);
    for (Event e : events) {
      assertThat(db.effects(consumer, e.id())).as("effects of %s", e.id()).isEqualTo(1);
    }
    assertThat(TestSchema.dedupeHits(registry, consumer)).isEqualTo(1);
    assertThat(second.isRunning()).isTrue();
  }

  @Test
  void poisonEvent_isDeadLetteredAtOnce_andTheEventsBehindItAreStillApplied() {
    String consumer = consumerName("poison");
    String destination = destination("poison", consumer);
    List<Event> events = publish(destination, 6);
    Event poison = events.get(1);
    EventHandler recording = TestSchema.recordingEffect(consumer);
    IdempotentProcessor processor =
        db.processor(
            consumer,
            (event, c) -> {
              if (event.id().equals(poison.id())) {
                throw new PoisonEventException("order refers to an unknown customer");
              }
              recording.handle(event, c);
            },
            registry);

    RabbitMqSubscription subscription = subscribe(destination, processor, SubscriptionSpec.AfterCommitHook.NONE);

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 5);
    assertThat(db.deadLetters(consumer))
        .singleElement()
        .satisfies(dl -> {
          assertThat(dl).containsEntry("event_id", poison.id()).containsEntry("reason", "POISON").containsEntry("attempts", 1);
          assertThat((String) dl.get("error_message")).contains("unknown customer");
        });
    assertThat(db.effects(consumer, poison.id())).isZero();
    assertThat(subscription.isRunning()).isTrue();
    assertThat(subscription.received()).as("the poison event was not redelivered").isEqualTo(6);
  }

  @Test
  void malformedAndOversizedMessages_areDeadLetteredWithTheirReason_andTheStreamGoesOn() throws Exception {
    String consumer = consumerName("malformed");
    String destination = destination("malformed", consumer);
    try (Channel ch = admin.createChannel()) {
      ch.basicPublish(destination, "k", new AMQP.BasicProperties.Builder().type("OrderPlaced").build(), "no id".getBytes(StandardCharsets.UTF_8));
      ch.basicPublish(
          destination,
          "k",
          new AMQP.BasicProperties.Builder().messageId("not-a-uuid").type("OrderPlaced").build(),
          "bad id".getBytes(StandardCharsets.UTF_8));
      String id = UUID.randomUUID().toString();
      ch.basicPublish(
          destination, "k", new AMQP.BasicProperties.Builder().messageId(id).build(), "no type".getBytes(StandardCharsets.UTF_8));
      ch.basicPublish(
          destination,
          "k",
          new AMQP.BasicProperties.Builder().messageId(UUID.randomUUID().toString()).type("OrderPlaced").build(),
          new byte[4096]);
    }
    List<Event> healthy = publish(destination, 2);

    RabbitMqSubscription subscription =
        transport.subscribe(SubscriptionSpec.of(destination).withMaxRecordBytes(1024), recording(consumer));
    closeables.add(subscription);

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 2 && db.deadLetters(consumer).size() == 4);
    List<Map<String, Object>> deadLetters = db.deadLetters(consumer);
    assertThat(deadLetters).extracting(dl -> dl.get("reason")).containsExactly("MALFORMED", "MALFORMED", "MALFORMED", "OVERSIZED");
    assertThat((String) deadLetters.get(0).get("error_message")).contains("no valid courier-event-id header or message-id property");
    assertThat((String) deadLetters.get(1).get("error_message")).contains("not a canonical UUID");
    assertThat((String) deadLetters.get(2).get("error_message")).contains("every event needs a type");
    assertThat((String) deadLetters.get(3).get("error_message")).contains("over the consumer's limit of 1024 bytes");
    assertThat(deadLetters.get(0).get("event_id")).isNull();
    assertThat((String) deadLetters.get(0).get("source")).startsWith(RabbitMqTransport.queueName(destination, consumer) + "@sha256:");
    assertThat((byte[]) deadLetters.get(0).get("payload")).asString(StandardCharsets.UTF_8).isEqualTo("no id");
    for (Event e : healthy) {
      assertThat(db.effects(consumer, e.id())).isEqualTo(1);
    }
    await().atMost(WAIT).until(() -> subscription.received() == 6);
    subscription.close();
    assertThat(TestRabbit.ready(admin, RabbitMqTransport.queueName(destination, consumer))).as("all acked").isZero();
  }

  /**
   * A transport given a clock and a thread factory hands both to its subscriptions: a message from
   * another producer, without a creation time, is dated by the clock, and the worker, the retry
   * thread and the client's threads all come from the factory.
   */
  @Test
  void transportsClockAndThreads_dateAMessageWithoutCreationTime_andRunTheSubscription() throws Exception {
    String consumer = consumerName("injected");
    String destination = destination("injected", consumer);
    String queue = RabbitMqTransport.queueName(destination, consumer);
    Instant standing = Instant.parse("2031-03-01T12:00:00Z");
    RecordingThreadFactory threads = RecordingThreadFactory.virtual();
    RabbitMqTransport injected = TestRabbit.transport().clock(TestClock.at(standing)).threadFactory(threads).build();
    closeables.add(injected);
    UUID id = UUID.randomUUID();
    try (Channel ch = admin.createChannel()) {
      ch.basicPublish(
          destination,
          "k",
          new AMQP.BasicProperties.Builder().messageId(id.toString()).type("OrderPlaced").build(),
          "from another producer".getBytes(StandardCharsets.UTF_8));
    }
    List<Instant> createdAt = new CopyOnWriteArrayList<>();
    List<Thread> handledOn = new CopyOnWriteArrayList<>();
    AtomicBoolean failedOnce = new AtomicBoolean();
    EventHandler effect = TestSchema.recordingEffect(consumer);
    EventHandler handler =
        (event, c) -> {
          createdAt.add(event.createdAt());
          handledOn.add(Thread.currentThread());
          if (!failedOnce.getAndSet(true)) {
            throw new IllegalStateException("try again later");
          }
          effect.handle(event, c);
        };

    RabbitMqSubscription subscription = injected.subscribe(SubscriptionSpec.of(destination), db.processor(consumer, handler, registry));
    closeables.add(subscription);
    await().atMost(WAIT).until(() -> db.effects(consumer, id) == 1);

    assertThat(createdAt).as("both attempts").hasSize(2).containsOnly(standing);
    assertThat(handledOn)
        .allSatisfy(t -> assertThat(threads.made(t)).isTrue())
        .extracting(Thread::getName)
        .containsOnly("courier-rabbitmq-" + queue);
    assertThat(threads.names())
        .contains("courier-rabbitmq-" + queue, "courier-rabbitmq-retry-" + queue)
        .anyMatch(name -> name.startsWith("courier-rabbitmq-client-"));
  }

  @Test
  void failingHandler_isRetriedAfterItsBackoff_notInAHotLoop_withAttemptsCountedByTheBroker() {
    String consumer = consumerName("retry");
    String destination = destination("retry", consumer);
    List<Event> events = publish(destination, 3);
    Event flaky = events.getFirst();
    List<Integer> attempts = new CopyOnWriteArrayList<>();
    List<Instant> attemptTimes = new CopyOnWriteArrayList<>();
    EventHandler recording = TestSchema.recordingEffect(consumer);
    IdempotentProcessor processor =
        db.processor(
            consumer,
            (event, c) -> {
              if (event.id().equals(flaky.id())) {
                // the processor logs each attempt with its number in the MDC
                attempts.add(Integer.valueOf(MDC.get(EventLog.ATTEMPT)));
                attemptTimes.add(Instant.now());
                if (attemptTimes.size() < 3) {
                  throw new IllegalStateException("downstream unavailable");
                }
              }
              recording.handle(event, c);
            },
            registry);
    RabbitMqSubscription subscription = transport.subscribe(SubscriptionSpec.of(destination), processor);
    closeables.add(subscription);

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 3);
    assertThat(attemptTimes).hasSize(3);
    for (int i = 1; i < attemptTimes.size(); i++) {
      assertThat(Duration.between(attemptTimes.get(i - 1), attemptTimes.get(i)))
          .as("backoff before attempt %d", i + 1)
          .isGreaterThanOrEqualTo(Duration.ofMillis(280));
    }
    assertThat(db.effects(consumer, flaky.id())).isEqualTo(1);
    assertThat(db.row("SELECT count(*) AS n FROM courier_processed_events WHERE event_id = ?", flaky.id())).containsEntry("n", 1L);
    assertThat(subscription.received()).as("one delivery per attempt, the others once").isEqualTo(5);
    assertThat(attempts).as("attempt numbers of the flaky event").containsExactly(1, 2, 3);
  }

  @Test
  void deletingTheQueueMidStream_stopsTheSubscriptionVisibly_withTheReason() throws Exception {
    String consumer = consumerName("deleted");
    String destination = destination("deleted", consumer);
    String queue = RabbitMqTransport.queueName(destination, consumer);
    publish(destination, 3);
    RabbitMqSubscription subscription = subscribe(destination, recording(consumer), SubscriptionSpec.AfterCommitHook.NONE);
    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 3);
    assertThat(subscription.isRunning()).isTrue();

    try (Channel ch = admin.createChannel()) {
      ch.queueDelete(queue);
    }

    await().atMost(WAIT).until(() -> !subscription.isRunning());
    assertThat(subscription.state()).isEqualTo(Subscription.State.FAILED);
    assertThat(subscription.failure())
        .hasValueSatisfying(reason -> assertThat(reason.getMessage()).contains("cancelled the consumer of queue '" + queue + "'").contains("deleted"));
    List<PublishResult> afterwards = transport.publish(List.of(TestSchema.event(destination, "k", "lost?").build()), Duration.ofSeconds(10));
    assertThat(afterwards).singleElement().isInstanceOfSatisfying(PublishResult.Failed.class, f -> assertThat(f.error()).hasMessageContaining("unroutable"));
  }

  @Test
  void unreachableDatabase_returnsTheMessageAfterABackoff_andTheEventIsAppliedOnceItIsBack() {
    String consumer = consumerName("db-down");
    String destination = destination("db-down", consumer);
    IdempotentProcessor processor = recording(consumer);
    db.databaseDown(true);
    Event event = publish(destination, 1).getFirst();

    RabbitMqSubscription subscription = subscribe(destination, processor, SubscriptionSpec.AfterCommitHook.NONE);

    // the processor's own retries, then failures to record anything: the message keeps returning
    await().atMost(WAIT).until(() -> subscription.received() >= 5);
    long receivedWhileDown = subscription.received();
    assertThat(receivedWhileDown).as("no hot loop while the database is down").isLessThan(12);
    assertThat(subscription.isRunning()).isTrue();
    db.databaseDown(false);

    await().atMost(WAIT).until(() -> db.effects(consumer, event.id()) == 1);
    assertThat(db.deadLetters(consumer)).isEmpty();
  }

  @Test
  void subscribe_refusesADeliveryLimitBelowTheProcessorsAttempts_andOptionsItDoesNotKnow() {
    String consumer = consumerName("refused");
    String destination = cleanup.destination(TestRabbit.uniqueDestination("refused"));
    cleanup.queue(RabbitMqTransport.queueName(destination, consumer));
    RabbitMqTransport lowLimit = TestRabbit.transport().deliveryLimit(2).build();
    closeables.add(lowLimit);

    assertThatThrownBy(() -> lowLimit.subscribe(SubscriptionSpec.of(destination), recording(consumer)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("deliveryLimit: must be at least the processor's maxAttempts (3), was 2");
    assertThatThrownBy(() -> transport.subscribe(SubscriptionSpec.of(destination).withOption("fetch.max.wait.ms", "50"), recording(consumer)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("fetch.max.wait.ms: is not a subscription option of the rabbitmq transport");
    assertThatThrownBy(() -> transport.subscribe(SubscriptionSpec.of(destination).withOption("prefetch", "0"), recording(consumer)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("prefetch: must be an integer from 1 to 65535");
  }

  @Test
  void eventsOfOneKey_areAppliedInPublishOrder_whileNothingIsRetried() {
    String consumer = consumerName("order");
    String destination = destination("order", consumer);
    List<Event> events = publish(destination, 60);

    subscribe(destination, recording(consumer), SubscriptionSpec.AfterCommitHook.NONE);

    await().atMost(WAIT).until(() -> db.effectRows(consumer) == 60);
    List<Object> applied =
        db.rows("SELECT event_id FROM effects WHERE consumer = ? ORDER BY id", consumer).stream().map(r -> r.get("event_id")).toList();
    assertThat(applied).containsExactlyElementsOf(events.stream().map(Event::id).toList());
  }
}
