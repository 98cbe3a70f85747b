package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.metrics.CourierMetrics;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.OutageDataSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Failure modes that have lost or duplicated events in real outbox libraries and broker clients,
 * each shown twice on PostgreSQL and a real Kafka broker: first the unprotected way of doing it
 * fails (the contrast), then Courier's way, with its protection, does not. Each test's javadoc
 * names the protection it guards. The table in {@code docs/RELIABILITY.md} ("Known failure modes")
 * lists them with the tests of the other transports.
 */
@Tag("known-failure-mode")
class KnownFailureModesTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static DeliveryFixture db;

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("known_failures_kafka");
    db.execute("CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, item VARCHAR(64) NOT NULL)");
  }

  @AfterEach
  void closeRelaysAndConsumers() {
    db.closeResources();
  }

  @AfterAll
  static void tearDown() {
    db.close();
  }

  /**
   * Guards: the relay claims rows by status and lease, never by a remembered position
   * ({@code OutboxStore.claim}). Without it: a poller that remembers "published up to seq N" never
   * sees a row whose transaction took its sequence number first and committed after a later row.
   */
  @Test
  @DisplayName("known failure mode: polling past a late-committing transaction")
  void pollingPastALateCommittingTransaction_losesTheRowForASeqCursor_butNotForTheRelay() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-late"), 1);
    Relay relay = db.closeLater(db.relay(db.transport()).build());
    SeqCursor naive = new SeqCursor(topic);

    Event late;
    Event early;
    try (Connection t1 = db.dataSource().getConnection()) {
      t1.setAutoCommit(false);
      late = db.outbox().append(t1, DeliveryFixture.event(topic, "a-1", "T1, takes its seq first, commits last"));
      early = db.commit(DeliveryFixture.event(topic, "a-2", "T2, commits first")).getFirst();
      assertThat(naive.poll()).containsExactly(early.id());
      assertThat(relay.runOnce().published()).isEqualTo(1);
      t1.commit();
    }

    assertThat(naive.poll()).as("the seq cursor is already past the late row: it is never seen").isEmpty();
    assertThat(naive.poll()).isEmpty();
    assertThat(relay.runOnce().published()).as("the relay claims it on its next pass").isEqualTo(1);
    assertThat(db.outboxRow(late.id())).containsEntry("status", "PUBLISHED");
    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .containsExactly(early.id().toString(), late.id().toString());
  }

  /**
   * Guards: the event is written to the outbox on the business transaction's own connection
   * ({@code Outbox.append}); only the relay publishes, and only committed rows. Without it: a
   * service that sends to the broker inside its transaction and then rolls back has published an
   * event for a change that never happened, and consumers act on it.
   */
  @Test
  @DisplayName("known failure mode: delivery before persistence")
  void deliveryBeforePersistence_publishesAPhantomForADualWrite_butNeverThroughTheOutbox() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-phantom"), 1);
    String name = "kfm-phantom-" + shortId();
    db.closeLater(db.relay(db.transport()).build()).start();
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    // the dual write: send, then the business transaction rolls back
    Event dualWrite = DeliveryFixture.event(topic, "order-1", "sent, then rolled back").build();
    try (Connection c = db.dataSource().getConnection();
        KafkaProducer<byte[], byte[]> producer = TestKafka.rawProducer()) {
      c.setAutoCommit(false);
      c.createStatement().executeUpdate("INSERT INTO orders (item) VALUES ('dual write')");
      producer.send(EventRecords.toRecord(dualWrite)).get(30, TimeUnit.SECONDS);
      c.rollback();
    }
    // Courier: the event is part of the transaction that rolls back
    Event throughOutbox;
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      c.createStatement().executeUpdate("INSERT INTO orders (item) VALUES ('outbox')");
      throughOutbox = db.outbox().append(c, DeliveryFixture.event(topic, "order-2", "rolled back"));
      c.rollback();
    }
    Event committed = db.commit(DeliveryFixture.event(topic, "order-3", "committed")).getFirst();

    await().atMost(WAIT).until(() -> db.effects(name, committed.id()) == 1);
    assertThat(db.effects(name, dualWrite.id()))
        .as("the consumer applied the dual write's phantom event")
        .isEqualTo(1);
    assertThat(db.effects(name, throughOutbox.id())).isZero();
    assertThat(db.outboxRow(throughOutbox.id())).isEmpty();
    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .containsExactly(dualWrite.id().toString(), committed.id().toString());
  }

  /**
   * Guards: the consumer's processed-events ledger ({@code IdempotentProcessor}), whose row commits
   * with the effect; the relay's lease, which republishes a row whose mark was lost. Without the
   * ledger: the broker holds the event twice after the republish, and a consumer that applies each
   * delivery applies it twice.
   */
  @Test
  @DisplayName("known failure mode: duplicate republish when marking fails after a successful publish")
  void markFailingAfterAConfirmedPublish_republishesTheEvent_andOnlyTheLedgerKeepsItToOneEffect() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-mark"), 1);
    String name = "kfm-mark-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    OutageDataSource relayDb = new OutageDataSource(db.dataSource());
    AtomicBoolean failNextMark = new AtomicBoolean(true);
    Transport kafka = db.transport();
    // the database becomes unreachable between the broker's confirmation and the mark
    Transport marksFail =
        new Transport() {
          @Override
          public String name() {
            return kafka.name();
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            List<PublishResult> results = kafka.publish(batch, timeout);
            if (failNextMark.getAndSet(false)) {
              relayDb.down(true);
            }
            return results;
          }
        };
    Relay relay =
        db.closeLater(
            Relay.builder(relayDb, marksFail)
                .retryPolicy(DeliveryFixture.FAST_RELAY_RETRIES)
                .publishTimeout(Duration.ofSeconds(1))
                .lease(Duration.ofSeconds(2))
                .build());
    Event event = db.commit(DeliveryFixture.event(topic, "order-4", "charge once")).getFirst();

    assertThat(relay.runOnce().published()).as("confirmed, but the mark failed").isZero();
    relayDb.down(false);
    assertThat(db.outboxRow(event.id())).containsEntry("status", "PENDING");
    await()
        .atMost(WAIT)
        .until(
            () -> {
              relay.runOnce();
              return "PUBLISHED".equals(db.outboxRow(event.id()).get("status"));
            });

    List<String> onTheWire = TestKafka.eventIds(TestKafka.readAll(topic));
    assertThat(onTheWire)
        .as("two copies: a consumer applying each delivery would apply the event twice")
        .containsExactly(event.id().toString(), event.id().toString());
    db.start(db.consumer(name, topic, registry).build());
    await().atMost(WAIT).until(() -> DeliveryFixture.dedupeHits(registry, name) == 1);
    assertThat(db.effects(name, event.id())).isEqualTo(1);
  }

  /**
   * Guards: the relay's bounded retries end in a visible {@code DEAD} row with the last error and a
   * {@value CourierMetrics#RELAY_DEAD} count, and its loop survives failed passes (it backs off and
   * goes on). Without it: a relay whose loop ends on the first database error stops publishing
   * while the application keeps appending, and an event dropped after its last attempt leaves no
   * trace (checked once with the relay loop leaving on a failed pass: the event appended during
   * the outage is then never published and this test times out).
   */
  @Test
  @DisplayName("known failure mode: a relay giving up silently")
  void relayNeverGivesUpSilently_survivesADatabaseOutage_andParksAnUnpublishableEventVisibly()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-giveup"), 1);
    MeterRegistry registry = DeliveryFixture.registry();
    OutageDataSource relayDb = new OutageDataSource(db.dataSource());
    Transport kafka = db.transport();
    Transport refusingOne =
        new Transport() {
          @Override
          public String name() {
            return kafka.name();
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            List<PublishResult> results = new ArrayList<>(kafka.publish(batch.stream().filter(e -> !e.type().equals("Refused")).toList(), timeout));
            for (Event e : batch) {
              if (e.type().equals("Refused")) {
                results.add(new PublishResult.Failed(e.id(), new IllegalStateException("broker refuses it"), true));
              }
            }
            return results;
          }
        };
    Relay relay =
        db.closeLater(
            Relay.builder(relayDb, refusingOne)
                .retryPolicy(RetryPolicy.builder().maxAttempts(3).initialDelay(Duration.ofMillis(10)).maxDelay(Duration.ofMillis(20)).build())
                .minPollInterval(Duration.ofMillis(5))
                .maxPollInterval(Duration.ofMillis(100))
                .meterRegistry(registry)
                .build());
    relayDb.down(true);
    relay.start();
    Event refused = db.commit(Event.builder("Refused").destination(topic).key("r").payload("never accepted")).getFirst();
    Event duringOutage = db.commit(DeliveryFixture.event(topic, "k", "during the outage")).getFirst();
    // several passes fail while the database is unreachable
    Thread.sleep(500);
    assertThat(relay.state()).isEqualTo(Relay.State.RUNNING);
    relayDb.down(false);

    await().atMost(WAIT).until(() -> "PUBLISHED".equals(db.outboxRow(duringOutage.id()).get("status")));
    await().atMost(WAIT).until(() -> "DEAD".equals(db.outboxRow(refused.id()).get("status")));
    assertThat(db.outboxRow(refused.id()))
        .containsEntry("attempts", 3)
        .hasEntrySatisfying("last_error", e -> assertThat((String) e).contains("broker refuses it"));
    Counter dead = registry.find(CourierMetrics.RELAY_DEAD).counter();
    assertThat(dead).isNotNull();
    assertThat(dead.count()).isEqualTo(1.0);
    Event after = db.commit(DeliveryFixture.event(topic, "k", "after")).getFirst();
    await().atMost(WAIT).until(() -> "PUBLISHED".equals(db.outboxRow(after.id()).get("status")));
  }

  /**
   * Guards: each consumer name is its own subscription (a Kafka group, a RabbitMQ queue, a
   * JetStream durable) with its own thread and position, and a retry waits by pausing the
   * partition, never by sleeping in the poll loop. Without it: one dispatcher that runs every
   * handler of a message in turn makes every consumer wait for the slowest.
   */
  @Test
  @DisplayName("known failure mode: one slow handler blocking all others")
  void slowHandler_blocksTheOthersBehindOneDispatcher_butNotOtherConsumers() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-slow"), 1);
    String slow = "kfm-slow-" + shortId();
    String fast = "kfm-fast-" + shortId();
    String shared = "kfm-shared-" + shortId();
    CountDownLatch release = new CountDownLatch(1);
    EventHandler slowEffect = DeliveryFixture.recordingEffect(slow);
    EventHandler slowHandler =
        (event, c) -> {
          release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
          slowEffect.handle(event, c);
        };
    EventHandler fastEffect = DeliveryFixture.recordingEffect(fast);
    // the contrast: one dispatcher, both handlers in turn
    EventHandler fastBehindSlow = DeliveryFixture.recordingEffect(shared);
    EventHandler oneDispatcher =
        (event, c) -> {
          release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
          fastBehindSlow.handle(event, c);
        };
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      events.add(db.commit(DeliveryFixture.event(topic, "k-" + i, "e" + i)).getFirst());
    }
    db.closeLater(db.relay(db.transport()).build()).start();
    MeterRegistry registry = DeliveryFixture.registry();
    db.start(db.consumer(db.processor(slow, slowHandler, registry).build(), topic).build());
    db.start(db.consumer(db.processor(shared, oneDispatcher, registry).build(), topic).build());
    db.start(db.consumer(db.processor(fast, fastEffect, registry).build(), topic).build());

    await().atMost(WAIT).until(() -> db.effectRows(fast) == 20);
    assertThat(db.effectRows(slow)).as("the slow consumer is still on its first event").isZero();
    assertThat(db.effectRows(shared)).as("behind one dispatcher, nothing else is applied").isZero();
    release.countDown();
    await().atMost(WAIT).until(() -> db.effectRows(slow) == 20 && db.effectRows(shared) == 20);
    assertThat(db.distinctEffects(fast)).isEqualTo(20);
  }

  /**
   * Guards: a handler that declares an event poison ({@link PoisonEventException}) sends it to the
   * dead letters at once, and every other failure is retried a bounded number of times ({@link
   * RetryPolicy#maxAttempts()}) before the same. Without it: retrying the poison event forever
   * holds its partition, and every event behind it waits.
   */
  @Test
  @DisplayName("known failure mode: a poison message stalling a partition")
  void poisonMessage_stallsItsPartitionWhenRetriedWithoutEnd_butIsDeadLetteredAndPassed() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-poison"), 1);
    String endless = "kfm-endless-" + shortId();
    String courier = "kfm-poison-" + shortId();
    Event poison = db.commit(Event.builder("Poison").destination(topic).key("k").payload("unknown customer")).getFirst();
    List<Event> behind = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      behind.add(db.commit(DeliveryFixture.event(topic, "k-" + i, "behind " + i)).getFirst());
    }
    db.closeLater(db.relay(db.transport()).build()).start();
    MeterRegistry registry = DeliveryFixture.registry();
    // the contrast: the same failure retried without end
    EventHandler endlessEffect = DeliveryFixture.recordingEffect(endless);
    IdempotentProcessor retriesForever =
        IdempotentProcessor.builder(
                endless,
                db.dataSource(),
                (event, c) -> {
                  if (event.type().equals("Poison")) {
                    throw new IllegalStateException("unknown customer");
                  }
                  endlessEffect.handle(event, c);
                })
            .retryPolicy(RetryPolicy.builder().maxAttempts(1_000_000).initialDelay(Duration.ofMillis(10)).maxDelay(Duration.ofMillis(50)).build())
            .meterRegistry(registry)
            .build();
    EventHandler courierEffect = DeliveryFixture.recordingEffect(courier);
    IdempotentProcessor declaresPoison =
        db.processor(
                courier,
                (event, c) -> {
                  if (event.type().equals("Poison")) {
                    throw new PoisonEventException("unknown customer");
                  }
                  courierEffect.handle(event, c);
                },
                registry)
            .build();
    db.start(db.consumer(retriesForever, topic).build());
    db.start(db.consumer(declaresPoison, topic).build());

    await().atMost(WAIT).until(() -> db.effectRows(courier) == 10);
    assertThat(db.deadLetters(courier))
        .singleElement()
        .satisfies(d -> {
          assertThat(d.get("event_id")).isEqualTo(poison.id());
          assertThat(d.get("reason")).isEqualTo("POISON");
        });
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(10))
        .until(() -> db.effectRows(endless) == 0);
    assertThat(DeliveryFixture.counter(registry, CourierMetrics.CONSUMER_RETRIES, endless))
        .as("the endless consumer keeps retrying the poison event")
        .isGreaterThan(5);
    assertThat(db.deadLetters(endless)).isEmpty();
  }

  /**
   * Guards: the transport reports a record the broker can never accept (Kafka's {@code
   * RecordTooLargeException}) as a non-retriable failure, and the relay parks it {@code DEAD} at
   * once. Without it: a relay that treats every failure as retriable republishes the record on every
   * pass until an operator notices.
   */
  @Test
  @DisplayName("known failure mode: an oversized record retried forever")
  void oversizedRecord_isRetriedOnEveryPassWhenEveryFailureIsRetriable_butParkedDeadAtOnceByCourier() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-oversized"), 1, Map.of("max.message.bytes", "16384"));
    KafkaTransport kafka = db.transport();
    Transport everythingRetriable =
        new Transport() {
          @Override
          public String name() {
            return kafka.name();
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            return kafka.publish(batch, timeout).stream()
                .map(r -> r instanceof PublishResult.Failed f ? new PublishResult.Failed(f.eventId(), f.error(), true) : r)
                .toList();
          }
        };
    RetryPolicy patient = RetryPolicy.builder().maxAttempts(1_000).initialDelay(Duration.ZERO).maxDelay(Duration.ZERO).build();
    Relay naive = db.closeLater(db.relay(everythingRetriable).retryPolicy(patient).relayId("naive").build());
    Relay courier = db.closeLater(db.relay(kafka).retryPolicy(patient).relayId("courier").build());
    Event big = db.commit(Event.builder("ReportGenerated").destination(topic).key("r").payload(new byte[64 * 1024])).getFirst();

    for (int i = 0; i < 5; i++) {
      naive.runOnce();
    }
    assertThat(db.outboxRow(big.id()))
        .as("five passes, five attempts, still pending: no pass will ever end it")
        .containsEntry("status", "PENDING")
        .containsEntry("attempts", 5);

    Event small = db.commit(DeliveryFixture.event(topic, "s", "small")).getFirst();
    await().atMost(WAIT).until(() -> {
      courier.runOnce();
      return "DEAD".equals(db.outboxRow(big.id()).get("status")) && "PUBLISHED".equals(db.outboxRow(small.id()).get("status"));
    });
    assertThat(db.outboxRow(big.id()))
        .containsEntry("attempts", 6)
        .hasEntrySatisfying("last_error", e -> assertThat((String) e).contains("RecordTooLargeException"));
  }

  /**
   * Guards: {@link KafkaIdempotentConsumer} commits a record's offset only after the effect and the
   * ledger row committed, and refuses {@code enable.auto.commit=true}. Without it: a consumer that
   * commits the offset first and dies before its database commit has acknowledged an event whose
   * effect never happened; its group never sees the event again.
   */
  @Test
  @DisplayName("known failure mode: ack before durable commit")
  void ackBeforeCommit_losesTheEventWhenTheConsumerDies_whileCourierGetsItAgain() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-ack"), 1);
    String naiveGroup = "kfm-ack-naive-" + shortId();
    String name = "kfm-ack-" + shortId();
    Event event = db.commit(DeliveryFixture.event(topic, "order-5", "ship it")).getFirst();
    db.closeLater(db.relay(db.transport()).build()).start();
    await().atMost(WAIT).until(() -> TestKafka.readAll(topic).size() == 1);

    // the contrast: commit the offset, then die inside the database transaction
    try (KafkaConsumer<byte[], byte[]> naive = plainConsumer(naiveGroup, topic);
        Connection c = db.dataSource().getConnection()) {
      List<ConsumerRecord<byte[], byte[]>> got = pollAtLeastOne(naive);
      assertThat(got).hasSize(1);
      naive.commitSync();
      c.setAutoCommit(false);
      DeliveryFixture.recordingEffect(naiveGroup).handle(event, c);
      c.rollback(); // the process died before its commit
    }
    try (KafkaConsumer<byte[], byte[]> restarted = plainConsumer(naiveGroup, topic)) {
      assertThat(restarted.poll(Duration.ofSeconds(3)).count())
          .as("the group has acknowledged the event: it is never delivered again")
          .isZero();
    }
    assertThat(db.effectRows(naiveGroup)).isZero();

    // Courier: the consumer dies inside the handler, before its commit
    CountDownLatch inHandler = new CountDownLatch(1);
    CountDownLatch crashed = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    IdempotentProcessor processor =
        db.processor(
                name,
                (e, c) -> {
                  if (calls.incrementAndGet() == 1) {
                    inHandler.countDown();
                    crashed.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                    throw new IllegalStateException("process died before commit");
                  }
                  effect.handle(e, c);
                },
                DeliveryFixture.registry())
            .build();
    KafkaTransport transport = db.transport();
    // the crashed consumer never leaves its group: keep the wait for its session short
    SubscriptionSpec spec =
        SubscriptionSpec.of(topic)
            .withOption("fetch.max.wait.ms", "50")
            .withOption("session.timeout.ms", "6000")
            .withOption("heartbeat.interval.ms", "1000");
    KafkaIdempotentConsumer dying = db.closeLater(transport.subscribe(spec, processor));
    assertThat(inHandler.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    // crash() waits for the poll thread, which is inside the handler: let the handler go on meanwhile
    Thread crasher = Thread.ofVirtual().start(dying::crash);
    Thread.sleep(200);
    crashed.countDown();
    crasher.join(WAIT);
    await().atMost(WAIT).until(() -> !dying.isRunning());
    db.closeLater(transport.subscribe(spec, processor));
    await().atMost(WAIT).until(() -> db.effects(name, event.id()) == 1);
  }

  /**
   * Guards: the consumer's ledger, because Kafka's idempotent producer dedupes only within one
   * producer session (producer id and epoch). Without it: a relay restarted after publishing and
   * before marking is a new producer; the broker stores the event a second time and a consumer
   * applies both copies.
   */
  @Test
  @DisplayName("known failure mode: duplicates after the producer session has expired (Kafka)")
  void republishByANewProducerSession_isStoredTwiceByKafka_butAppliedOnceThroughTheLedger() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("kfm-session"), 1);
    String name = "kfm-session-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    Event event = db.commit(DeliveryFixture.event(topic, "order-6", "once")).getFirst();
    try (KafkaTransport firstSession = KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build()) {
      assertThat(firstSession.publish(List.of(event), Duration.ofSeconds(10)).getFirst())
          .isInstanceOf(PublishResult.Confirmed.class);
    } // the relay "dies" before marking: its producer session ends with it
    Relay restarted = db.closeLater(db.relay(db.transport()).build());
    assertThat(restarted.runOnce().published()).isEqualTo(1);

    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .as("a new producer session: the broker does not recognise the copy")
        .containsExactly(event.id().toString(), event.id().toString());
    db.start(db.consumer(name, topic, registry).build());
    await().atMost(WAIT).until(() -> DeliveryFixture.dedupeHits(registry, name) == 1);
    assertThat(db.effects(name, event.id())).isEqualTo(1);
  }

  private static KafkaConsumer<byte[], byte[]> plainConsumer(String group, String topic) {
    KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(
            Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrap(),
                ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
            new ByteArrayDeserializer(),
            new ByteArrayDeserializer());
    c.subscribe(List.of(topic));
    return c;
  }

  private static List<ConsumerRecord<byte[], byte[]>> pollAtLeastOne(KafkaConsumer<byte[], byte[]> c) {
    List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (got.isEmpty() && System.nanoTime() < deadline) {
      c.poll(Duration.ofMillis(200)).forEach(got::add);
    }
    return got;
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  /** The watermark poller of many hand-written outboxes: "everything after the last seq I saw". */
  private static final class SeqCursor {
    private final String destination;
    private long last;

    SeqCursor(String destination) {
      this.destination = destination;
    }

    List<UUID> poll() throws SQLException {
      List<UUID> seen = new ArrayList<>();
      try (Connection c = db.dataSource().getConnection();
          PreparedStatement ps =
              c.prepareStatement(
                  "SELECT seq, event_id FROM courier_outbox WHERE destination = ? AND seq > ? ORDER BY seq")) {
        ps.setString(1, destination);
        ps.setLong(2, last);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            last = rs.getLong(1);
            seen.add(rs.getObject(2, UUID.class));
          }
        }
      }
      return seen;
    }
  }
}
