package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.courier.Event;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.PublishResult;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.OutageDataSource;
import dev.courier.testkit.RecordingThreadFactory;
import dev.courier.testkit.TestClock;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The Kafka consumer against a real broker and a real PostgreSQL: crashes, retries, bad records,
 * outages.
 */
class KafkaIdempotentConsumerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static DeliveryFixture db;
  private static KafkaTransport transport;

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("kafka_consumer");
    transport = KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build();
  }

  @AfterEach
  void closeConsumers() {
    db.closeResources();
  }

  @AfterAll
  static void tearDown() {
    transport.close();
    db.close();
  }

  @Test
  void
      consumerDyingAfterTheEffectCommitsAndBeforeTheOffsetCommit_getsTheEventAgain_andTheLedgerDedupesIt() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("crash"), 1);
    String name = "crash-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    Event first = publish(DeliveryFixture.event(topic, "k", "first"));
    Event second = publish(DeliveryFixture.event(topic, "k", "second"));

    KafkaIdempotentConsumer doomed =
        db.start(
            db.consumer(name, topic, registry)
                .afterCommit(
                    e -> {
                      throw new IllegalStateException(
                          "simulated crash after the commit of " + e.id());
                    })
                .build());
    await().atMost(WAIT).until(() -> doomed.state() == Subscription.State.CRASHED);

    assertThat(doomed.failure())
        .get()
        .isInstanceOf(IllegalStateException.class)
        .asString()
        .contains("simulated crash after the commit of " + first.id());
    assertThat(db.effects(name, first.id()))
        .as("the effect committed before the crash")
        .isEqualTo(1);
    assertThat(db.effects(name, second.id()))
        .as("the consumer died before the next record")
        .isZero();
    assertThat(TestKafka.committedOffset("group-" + name, new TopicPartition(topic, 0)))
        .as("the offset was not committed")
        .isEmpty();

    KafkaIdempotentConsumer successor = db.start(db.consumer(name, topic, registry).build());
    await().atMost(WAIT).until(() -> db.effects(name, second.id()) == 1);
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 2L);

    assertThat(db.effects(name, first.id()))
        .as("redelivered, deduplicated, not applied twice")
        .isEqualTo(1);
    assertThat(DeliveryFixture.dedupeHits(registry, name)).isGreaterThanOrEqualTo(1);
    assertThat(successor.recordsSeen()).isEqualTo(2);
  }

  /**
   * Regression: the Kafka consumer ran its after-commit hook only for an applied event, while the
   * other transports ran it for duplicates and dead letters too.
   */
  @Test
  void afterCommitHook_runsForDuplicatesAndDeadLettersToo_butNotForRetriesNorUndecodableRecords()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("hook"), 1);
    String name = "hook-" + shortId();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler handler =
        (event, c) -> {
          if (event.type().equals("Doomed")) {
            throw new IllegalStateException("the payment service says no");
          }
          effect.handle(event, c);
        };
    IdempotentProcessor processor = db.processor(name, handler, DeliveryFixture.registry()).build();
    Event applied = DeliveryFixture.event(topic, "k", "applied").build();
    publish(applied);
    publish(applied);
    Event doomed = publish(Event.builder("Doomed").destination(topic).key("k"));
    try (KafkaProducer<byte[], byte[]> raw = TestKafka.rawProducer()) {
      send(raw, topic, "garbage".getBytes(StandardCharsets.UTF_8), Map.of());
    }
    Event last = publish(DeliveryFixture.event(topic, "k", "last"));
    List<UUID> hooked = new CopyOnWriteArrayList<>();

    KafkaIdempotentConsumer consumer =
        db.start(db.consumer(processor, topic).afterCommit(e -> hooked.add(e.id())).build());
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 5L);

    assertThat(hooked)
        .as("applied, duplicate, dead-lettered (once, after its last attempt), applied")
        .containsExactly(applied.id(), applied.id(), doomed.id(), last.id());
    assertThat(db.deadLetters(name))
        .extracting(d -> d.get("reason"))
        .containsExactly("HANDLER_FAILED", "MALFORMED");
    assertThat(consumer.retriesScheduled()).isEqualTo(2);
    assertThat(consumer.recordsAcknowledged()).isEqualTo(5);
  }

  @Test
  void
      handlerThatKeepsFailing_isRetriedWithBackoff_thenDeadLettered_andLaterEventsOfItsPartitionAreStillProcessed() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("dead"), 1);
    String name = "dead-" + shortId();
    List<Instant> attempts = new CopyOnWriteArrayList<>();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler handler =
        (event, c) -> {
          if (event.type().equals("Doomed")) {
            attempts.add(Instant.now());
            throw new IllegalStateException("the payment service says no");
          }
          effect.handle(event, c);
        };
    IdempotentProcessor processor = db.processor(name, handler, DeliveryFixture.registry()).build();
    Event doomed = publish(Event.builder("Doomed").destination(topic).key("k"));
    Event next = publish(DeliveryFixture.event(topic, "k", "next"));
    Event other = publish(DeliveryFixture.event(topic, "other", "other"));

    KafkaIdempotentConsumer consumer = db.start(db.consumer(processor, topic).build());
    await().atMost(WAIT).until(() -> db.effects(name, other.id()) == 1);

    assertThat(db.deadLetters(name))
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.get("event_id")).isEqualTo(doomed.id());
              assertThat(d.get("reason")).isEqualTo("HANDLER_FAILED");
              assertThat(d.get("attempts")).isEqualTo(3);
              assertThat(d.get("error_class")).isEqualTo(IllegalStateException.class.getName());
              assertThat((String) d.get("error_message")).isEqualTo("the payment service says no");
              assertThat(d.get("source")).isEqualTo(topic + "-0@0");
            });
    assertThat(attempts).hasSize(3);
    // no jitter: 20 ms after the first failure, 40 ms after the second
    assertThat(Duration.between(attempts.get(0), attempts.get(1)))
        .isGreaterThanOrEqualTo(Duration.ofMillis(20));
    assertThat(Duration.between(attempts.get(1), attempts.get(2)))
        .isGreaterThanOrEqualTo(Duration.ofMillis(40));
    assertThat(db.effects(name, doomed.id())).isZero();
    assertThat(db.appliedOrder(name)).containsExactly(next.id(), other.id());
    assertThat(consumer.retriesScheduled()).isEqualTo(2);
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 3L);
  }

  /**
   * The consumer a transport starts takes the transport's clock and threads: its retry waits for
   * that clock (an hour that passes in no time), and it handles every record on the thread the
   * factory made.
   */
  @Test
  void subscriptionOfATransport_runsOnAThreadFromItsFactory_andRetriesWhenItsClockSaysSo()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("injected"), 1);
    String name = "injected-" + shortId();
    TestClock clock = TestClock.now();
    RecordingThreadFactory threads = RecordingThreadFactory.virtual();
    List<Thread> handledOn = new CopyOnWriteArrayList<>();
    AtomicBoolean failedOnce = new AtomicBoolean();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler handler =
        (event, c) -> {
          handledOn.add(Thread.currentThread());
          if (!failedOnce.getAndSet(true)) {
            throw new IllegalStateException("the payment service is down for a while");
          }
          effect.handle(event, c);
        };
    IdempotentProcessor processor =
        db.processor(name, handler, DeliveryFixture.registry())
            .retryPolicy(
                RetryPolicy.builder()
                    .maxAttempts(3)
                    .initialDelay(Duration.ofHours(1))
                    .maxDelay(Duration.ofHours(1))
                    .jitter(false)
                    .build())
            .build();
    Event event = publish(DeliveryFixture.event(topic, "k", "pay"));

    try (KafkaTransport clocked =
            KafkaTransport.builder()
                .bootstrapServers(TestKafka.bootstrap())
                .clock(clock)
                .threadFactory(threads)
                .build();
        KafkaIdempotentConsumer consumer =
            clocked.subscribe(
                SubscriptionSpec.of(topic).withOption("fetch.max.wait.ms", "50"), processor)) {
      await().atMost(WAIT).until(() -> consumer.retriesScheduled() == 1);
      assertThat(db.effects(name, event.id())).isZero();

      clock.advance(Duration.ofHours(1));
      await().atMost(WAIT).until(() -> db.effects(name, event.id()) == 1);

      assertThat(threads.names()).containsExactly("courier-kafka-consumer-" + name);
      assertThat(handledOn)
          .hasSize(2)
          .allSatisfy(t -> assertThat(t).isSameAs(threads.threads().getFirst()));
    }
  }

  @Test
  void
      eventWaitingForARetry_holdsBackOnlyItsOwnPartition_andLaterEventsOfItsPartitionFollowItInOrder() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("isolation"), 2);
    String name = "isolation-" + shortId();
    String keyOnP0 = TestKafka.keyOnPartition("a", 0, 2);
    String keyOnP1 = TestKafka.keyOnPartition("b", 1, 2);
    AtomicBoolean downstreamBroken = new AtomicBoolean(true);
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler handler =
        (event, c) -> {
          if (event.type().equals("NeedsDownstream") && downstreamBroken.get()) {
            throw new IllegalStateException("downstream unavailable");
          }
          effect.handle(event, c);
        };
    IdempotentProcessor processor =
        db.processor(name, handler, DeliveryFixture.registry())
            .retryPolicy(
                dev.courier.retry.RetryPolicy.builder()
                    .maxAttempts(1000)
                    .initialDelay(Duration.ofMillis(10))
                    .maxDelay(Duration.ofMillis(30))
                    .build())
            .build();
    Event stuck = publish(Event.builder("NeedsDownstream").destination(topic).key(keyOnP0));
    Event behindIt = publish(DeliveryFixture.event(topic, keyOnP0, "behind"));
    Event elsewhere = publish(DeliveryFixture.event(topic, keyOnP1, "elsewhere"));

    KafkaIdempotentConsumer consumer = db.start(db.consumer(processor, topic).build());
    await()
        .atMost(WAIT)
        .until(() -> db.effects(name, elsewhere.id()) == 1 && consumer.retriesScheduled() >= 5);

    assertThat(db.effects(name, stuck.id())).isZero();
    assertThat(db.effects(name, behindIt.id()))
        .as("held back behind the retrying event of its partition")
        .isZero();

    downstreamBroken.set(false);
    await().atMost(WAIT).until(() -> db.effects(name, behindIt.id()) == 1);

    assertThat(db.appliedOrder(name)).containsExactly(elsewhere.id(), stuck.id(), behindIt.id());
    assertThat(db.deadLetters(name)).isEmpty();
  }

  @Test
  void malformedAndOversizedRecords_areDeadLetteredWithTheirReason_andTheConsumerKeepsProcessing()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("bad-input"), 1);
    String name = "bad-input-" + shortId();
    UUID noType = UUID.randomUUID();
    UUID badDate = UUID.randomUUID();
    UUID oversized = UUID.randomUUID();
    try (KafkaProducer<byte[], byte[]> raw = TestKafka.rawProducer()) {
      send(raw, topic, "garbage".getBytes(StandardCharsets.UTF_8), Map.of());
      send(
          raw,
          topic,
          new byte[] {1},
          Map.of(KafkaHeaders.EVENT_ID, utf8("not-a-uuid"), KafkaHeaders.EVENT_TYPE, utf8("T")));
      send(raw, topic, new byte[] {2}, Map.of(KafkaHeaders.EVENT_ID, utf8(noType.toString())));
      send(
          raw,
          topic,
          new byte[] {3},
          Map.of(
              KafkaHeaders.EVENT_ID,
              new byte[] {(byte) 0xff, (byte) 0xfe},
              KafkaHeaders.EVENT_TYPE,
              utf8("T")));
      send(
          raw,
          topic,
          new byte[] {4},
          Map.of(
              KafkaHeaders.EVENT_ID,
              utf8(badDate.toString()),
              KafkaHeaders.EVENT_TYPE,
              utf8("T"),
              KafkaHeaders.CREATED_AT,
              utf8("yesterday")));
      RecordHeaders twoIds = new RecordHeaders();
      twoIds.add(KafkaHeaders.EVENT_ID, utf8(UUID.randomUUID().toString()));
      twoIds.add(KafkaHeaders.EVENT_ID, utf8(UUID.randomUUID().toString()));
      twoIds.add(KafkaHeaders.EVENT_TYPE, utf8("T"));
      raw.send(new ProducerRecord<>(topic, null, null, null, new byte[] {5}, twoIds))
          .get(30, TimeUnit.SECONDS);
      send(
          raw,
          topic,
          new byte[8 * 1024],
          Map.of(
              KafkaHeaders.EVENT_ID,
              utf8(oversized.toString()),
              KafkaHeaders.EVENT_TYPE,
              utf8("T")));
    }
    Event valid = publish(DeliveryFixture.event(topic, "k", "valid"));

    KafkaIdempotentConsumer consumer =
        db.start(db.consumer(name, topic, DeliveryFixture.registry()).maxRecordBytes(4096).build());
    await().atMost(WAIT).until(() -> db.effects(name, valid.id()) == 1);

    List<Map<String, Object>> dead = db.deadLetters(name);
    assertThat(dead)
        .extracting(d -> d.get("reason"))
        .containsExactly(
            "MALFORMED",
            "MALFORMED",
            "MALFORMED",
            "MALFORMED",
            "MALFORMED",
            "MALFORMED",
            "OVERSIZED");
    assertThat(dead)
        .extracting(d -> d.get("source"))
        .containsExactly(
            topic + "-0@0",
            topic + "-0@1",
            topic + "-0@2",
            topic + "-0@3",
            topic + "-0@4",
            topic + "-0@5",
            topic + "-0@6");
    assertThat(dead)
        .extracting(d -> (String) d.get("error_message"))
        .satisfiesExactly(
            m -> assertThat(m).contains("no valid courier-event-id header: event id is missing"),
            m -> assertThat(m).contains("event id is not a canonical UUID"),
            m -> assertThat(m).contains("no courier-event-type header"),
            m -> assertThat(m).contains("header 'courier-event-id' is not valid UTF-8"),
            m -> assertThat(m).contains("courier-created-at header is not an ISO-8601 instant"),
            m -> assertThat(m).contains("appears twice with different values"),
            m ->
                assertThat(m)
                    .containsPattern(
                        "record carries \\d+ bytes, over the consumer's limit of 4096 bytes"));
    assertThat(dead)
        .extracting(d -> d.get("event_id"))
        .containsExactly(null, null, noType, null, badDate, null, oversized);
    assertThat(consumer.state()).isEqualTo(Subscription.State.RUNNING);
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 8L);
  }

  @Test
  void
      databaseOutage_leavesTheRecordUnacknowledgedWithoutDeadLetteringIt_andAppliesItOnceTheDatabaseIsBack() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("outage"), 1);
    String name = "outage-" + shortId();
    OutageDataSource flaky = new OutageDataSource(db.dataSource());
    flaky.down(true);
    IdempotentProcessor processor =
        IdempotentProcessor.builder(name, flaky, DeliveryFixture.recordingEffect(name))
            .retryPolicy(
                dev.courier.retry.RetryPolicy.builder()
                    .maxAttempts(2)
                    .initialDelay(Duration.ofMillis(10))
                    .maxDelay(Duration.ofMillis(20))
                    .build())
            .build();
    Event event = publish(DeliveryFixture.event(topic, "k", "during outage"));

    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    // the outage is logged by the shared pipeline, which also decides its backoff
    ch.qos.logback.classic.Logger pipelineLog =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(DeliveryPipeline.class);
    pipelineLog.addAppender(logs);
    KafkaIdempotentConsumer consumer;
    try {
      consumer = db.start(db.consumer(processor, topic).build());
      await().atMost(WAIT).until(() -> consumer.unrecordedFailures() >= 3);
    } finally {
      pipelineLog.detachAppender(logs);
    }

    assertThat(committed(name, topic, 0)).isEmpty();
    assertThat(logs.list)
        .filteredOn(e -> e.getLevel() == Level.ERROR)
        .isNotEmpty()
        .allSatisfy(
            e ->
                assertThat(e.getMDCPropertyMap())
                    .containsEntry("event_id", event.id().toString())
                    .containsEntry("correlation_id", "corr-k")
                    .containsEntry("consumer", name)
                    .containsEntry("attempt", "1")
                    .containsEntry("source", topic + "-0@0"));
    assertThat(consumer.state()).isEqualTo(Subscription.State.RUNNING);
    flaky.down(false);
    await().atMost(WAIT).until(() -> db.effects(name, event.id()) == 1);

    assertThat(db.deadLetters(name)).as("an outage is not the event's fault").isEmpty();
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 1L);
  }

  @Test
  void gracefulClose_commitsWhatIsDone_soTheNextConsumerOfTheGroupStartsAfterIt() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("close"), 1);
    String name = "close-" + shortId();
    Event a = publish(DeliveryFixture.event(topic, "k", "a"));
    Event b = publish(DeliveryFixture.event(topic, "k", "b"));

    KafkaIdempotentConsumer first =
        db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());
    await().atMost(WAIT).until(() -> db.effects(name, b.id()) == 1);
    first.close();

    assertThat(first.state()).isEqualTo(Subscription.State.STOPPED);
    assertThat(committed(name, topic, 0)).contains(2L);
    Event c = publish(DeliveryFixture.event(topic, "k", "c"));
    KafkaIdempotentConsumer second =
        db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());
    await().atMost(WAIT).until(() -> db.effects(name, c.id()) == 1);
    assertThat(second.recordsSeen()).isEqualTo(1);
    assertThat(db.effects(name, a.id())).isEqualTo(1);
  }

  @Test
  void consumersJoiningAndLeavingTheGroupMidStream_applyEveryEventExactlyOnce() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("rebalance"), 3);
    String name = "rebalance-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler slowish =
        (event, c) -> {
          Thread.sleep(10); // slow enough for the group to change while records are in hand
          effect.handle(event, c);
        };
    List<Event> events = new java.util.ArrayList<>();
    for (int i = 0; i < 300; i++) {
      events.add(DeliveryFixture.event(topic, "customer-" + (i % 30), "event " + i).build());
    }
    for (List<Event> chunk : chunks(events.subList(0, 200), 50)) {
      assertThat(transport.publish(chunk, WAIT))
          .allMatch(r -> r instanceof PublishResult.Confirmed);
    }

    // Members learn of a rebalance through their heartbeats and rejoin at their next poll: make
    // both frequent, so the group changes while events are still flowing.
    KafkaIdempotentConsumer first =
        db.start(
            db.consumer(db.processor(name, slowish, registry).build(), topic)
                .property("heartbeat.interval.ms", 100)
                .property("max.poll.records", 10)
                .build());
    await().atMost(WAIT).until(() -> db.effectRows(name) >= 30);
    KafkaIdempotentConsumer second =
        db.start(
            db.consumer(db.processor(name, slowish, registry).build(), topic)
                .property("heartbeat.interval.ms", 100)
                .property("max.poll.records", 10)
                .build());
    await().atMost(WAIT).until(() -> second.recordsAcknowledged() >= 10);
    first.close();
    for (List<Event> chunk : chunks(events.subList(200, 300), 50)) {
      assertThat(transport.publish(chunk, WAIT))
          .allMatch(r -> r instanceof PublishResult.Confirmed);
    }
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == 300);

    assertThat(db.effectRows(name)).as("each effect once, whatever was redelivered").isEqualTo(300);
    assertThat(first.state()).isEqualTo(Subscription.State.STOPPED);
    assertThat(first.recordsAcknowledged() + second.recordsAcknowledged())
        .isEqualTo(300 + (long) DeliveryFixture.dedupeHits(registry, name));
  }

  private static <T> List<List<T>> chunks(List<T> list, int size) {
    List<List<T>> out = new java.util.ArrayList<>();
    for (int i = 0; i < list.size(); i += size) {
      out.add(list.subList(i, Math.min(list.size(), i + size)));
    }
    return out;
  }

  @Test
  void withBatches_aConsumerDyingAfterABatchCommits_getsItsRecordsAgain_andTheLedgerDedupesThem() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("batch-crash"), 1);
    String name = "batch-crash-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    List<Event> events = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) {
      events.add(publish(DeliveryFixture.event(topic, "k" + i, "e" + i)));
    }
    UUID dying = events.get(1).id();

    KafkaIdempotentConsumer doomed =
        db.start(
            db.consumer(
                    db.processor(name, DeliveryFixture.recordingEffect(name), registry)
                        .applyInBatches(10)
                        .build(),
                    topic)
                .afterCommit(
                    e -> {
                      if (e.id().equals(dying)) {
                        throw new IllegalStateException("simulated crash after the commit of " + e.id());
                      }
                    })
                .build());
    await().atMost(WAIT).until(() -> doomed.state() == Subscription.State.CRASHED);

    assertThat(db.effects(name, dying)).as("its batch committed before the crash").isEqualTo(1);
    assertThat(committed(name, topic, 0).orElse(0L))
        .as("nothing from the crashing record on was committed")
        .isLessThanOrEqualTo(1L);

    KafkaIdempotentConsumer successor =
        db.start(
            db.consumer(
                    db.processor(name, DeliveryFixture.recordingEffect(name), registry)
                        .applyInBatches(10)
                        .build(),
                    topic)
                .build());
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 4L);

    for (Event e : events) {
      assertThat(db.effects(name, e.id())).as("applied once: %s", e.id()).isEqualTo(1);
    }
    assertThat(db.effectRows(name)).isEqualTo(4);
    assertThat(DeliveryFixture.dedupeHits(registry, name)).isGreaterThanOrEqualTo(1);
    assertThat(successor.recordsAcknowledged()).isGreaterThanOrEqualTo(3);
  }

  @Test
  void withBatches_aPoisonRecordIsDeadLetteredAlone_andARetryingRecordHoldsBackThoseAfterIt() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("batch-poison"), 1);
    String name = "batch-poison-" + shortId();
    AtomicBoolean failedOnce = new AtomicBoolean();
    EventHandler effect = DeliveryFixture.recordingEffect(name);
    EventHandler handler =
        (event, c) -> {
          if (event.type().equals("Poison")) {
            throw new dev.courier.PoisonEventException("cannot ever be applied");
          }
          if (event.type().equals("FlakyOnce") && failedOnce.compareAndSet(false, true)) {
            throw new IllegalStateException("downstream unavailable, once");
          }
          effect.handle(event, c);
        };
    Event first = publish(DeliveryFixture.event(topic, "a", "first"));
    Event poison = publish(Event.builder("Poison").destination(topic).key("b"));
    Event second = publish(DeliveryFixture.event(topic, "c", "second"));
    Event flaky = publish(Event.builder("FlakyOnce").destination(topic).key("d"));
    Event last = publish(DeliveryFixture.event(topic, "e", "last"));

    KafkaIdempotentConsumer consumer =
        db.start(
            db.consumer(
                    db.processor(name, handler, DeliveryFixture.registry()).applyInBatches(10).build(),
                    topic)
                .build());
    await().atMost(WAIT).until(() -> committed(name, topic, 0).orElse(0L) == 5L);

    assertThat(db.appliedOrder(name))
        .as("each once, and the record behind the retrying one after it")
        .containsExactly(first.id(), second.id(), flaky.id(), last.id());
    assertThat(db.deadLetters(name))
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.get("event_id")).isEqualTo(poison.id());
              assertThat(d.get("reason")).isEqualTo("POISON");
            });
    assertThat(consumer.retriesScheduled()).isEqualTo(1);
  }

  private static Optional<Long> committed(String consumerName, String topic, int partition) {
    return TestKafka.committedOffset("group-" + consumerName, new TopicPartition(topic, partition));
  }

  private static Event publish(Event.Builder builder) {
    return publish(builder.build());
  }

  private static Event publish(Event event) {
    PublishResult result = transport.publish(List.of(event), WAIT).getFirst();
    assertThat(result).isInstanceOf(PublishResult.Confirmed.class);
    return event;
  }

  private static void send(
      KafkaProducer<byte[], byte[]> raw, String topic, byte[] value, Map<String, byte[]> headers)
      throws Exception {
    RecordHeaders h = new RecordHeaders();
    headers.forEach(h::add);
    raw.send(new ProducerRecord<>(topic, null, null, null, value, h)).get(30, TimeUnit.SECONDS);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }
}
