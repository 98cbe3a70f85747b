package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.metrics.CourierMetrics;
import dev.courier.relay.BatchResult;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole flow on real engines: business transaction and outbox row on PostgreSQL, the relay
 * publishing through {@link KafkaTransport} to Kafka, and {@link KafkaIdempotentConsumer} applying
 * each event's effect in one transaction with its ledger row. The relays hold their rows by lease
 * ({@link Relay.ClaimMode#LEASE}); {@link OutboxToKafkaDeliveryInLockModeTest} runs every test again
 * with {@link Relay.ClaimMode#LOCK}.
 */
class OutboxToKafkaDeliveryTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  /** Set by {@link #setUp}, or by a subclass's {@code setUp}, which hides it. */
  static DeliveryFixture db;

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("outbox_to_kafka");
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

  @Test
  void rolledBackBusinessTransaction_isNeverPublished_whileTheCommittedOneIsDelivered()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("phantom"), 1);
    String name = "phantom-" + shortId();
    db.closeLater(db.relay(db.transport()).build()).start();
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    Event rolledBack;
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      c.createStatement().executeUpdate("INSERT INTO orders (item) VALUES ('never')");
      rolledBack = db.outbox().append(c, DeliveryFixture.event(topic, "order-1", "never happened"));
      c.rollback();
    }
    Event committed = db.commit(DeliveryFixture.event(topic, "order-2", "happened")).getFirst();

    await().atMost(WAIT).until(() -> db.effects(name, committed.id()) == 1);
    // The relay and the consumer keep running; the rolled-back event must not appear meanwhile.
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(5))
        .until(() -> db.effects(name, rolledBack.id()) == 0);

    assertThat(db.outboxRow(rolledBack.id())).isEmpty();
    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .containsExactly(committed.id().toString());
  }

  @Test
  void relayLosingTheBrokersConfirmation_publishesTheEventAgain_andTheConsumerAppliesItOnce() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("lost-confirm"), 1);
    String name = "lost-confirm-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    // The broker stores the record, but the relay never learns it: as if it died before marking the
    // row.
    DroppingConfirmations transport = new DroppingConfirmations(db.transport(), 1);
    Relay relay = db.closeLater(db.relay(transport).build());
    Event event = db.commit(DeliveryFixture.event(topic, "order-3", "pay once")).getFirst();

    await()
        .atMost(WAIT)
        .until(
            () -> {
              relay.runOnce();
              return "PUBLISHED".equals(db.outboxRow(event.id()).get("status"));
            });
    db.start(db.consumer(name, topic, registry).build());
    await().atMost(WAIT).until(() -> DeliveryFixture.dedupeHits(registry, name) >= 1);

    assertThat(transport.dropped()).isEqualTo(1);
    assertThat(db.outboxRow(event.id())).containsEntry("attempts", 2);
    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .as("the topic holds the event twice")
        .containsExactly(event.id().toString(), event.id().toString());
    assertThat(db.effects(name, event.id())).as("and the effect happened once").isEqualTo(1);
  }

  @Test
  void
      relayDyingAfterPublishingAndBeforeMarking_isReplacedWhenItsLeaseExpires_andTheConsumerAppliesTheEventOnce()
          throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("dead-relay"), 1);
    String name = "dead-relay-" + shortId();
    MeterRegistry registry = DeliveryFixture.registry();
    CountDownLatch never = new CountDownLatch(1);
    // Publishes for real, then never returns: the relay's thread is as good as dead, its rows still
    // leased.
    Transport freezing = DeliveryFixture.freezingAfterPublish(db.transport(), never);
    Relay dying =
        db.relay(freezing)
            .relayId("dying")
            .publishTimeout(Duration.ofMillis(1500))
            .lease(Duration.ofSeconds(3))
            .build();
    Relay survivor =
        db.closeLater(
            db.relay(db.transport())
                .relayId("survivor")
                .publishTimeout(Duration.ofMillis(1500))
                .lease(Duration.ofSeconds(3))
                .build());
    Event event = db.commit(DeliveryFixture.event(topic, "order-4", "ship once")).getFirst();

    Thread dyingPass = Thread.ofVirtual().start(dying::runOnce);
    await().atMost(WAIT).until(() -> TestKafka.readAll(topic).size() == 1);
    assertThat(survivor.runOnce().claimed())
        .as("the row is still leased to the dying relay")
        .isZero();
    await()
        .atMost(WAIT)
        .until(
            () -> {
              survivor.runOnce();
              return "PUBLISHED".equals(db.outboxRow(event.id()).get("status"));
            });
    db.start(db.consumer(name, topic, registry).build());
    await().atMost(WAIT).until(() -> DeliveryFixture.dedupeHits(registry, name) >= 1);

    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .containsExactly(event.id().toString(), event.id().toString());
    assertThat(db.effects(name, event.id())).isEqualTo(1);
    never.countDown();
    dyingPass.join(Duration.ofSeconds(10));
    assertThat(db.outboxRow(event.id())).containsEntry("status", "PUBLISHED");
  }

  @Test
  void lateCommittingTransaction_isPublishedAfterALaterOne_notSkipped_andConsumedInCommitOrder()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("late-commit"), 1);
    String name = "late-commit-" + shortId();
    Relay relay = db.closeLater(db.relay(db.transport()).build());

    Event first;
    Event second;
    try (Connection t1 = db.dataSource().getConnection()) {
      t1.setAutoCommit(false);
      first = db.outbox().append(t1, DeliveryFixture.event(topic, "account-9", "T1, commits late"));
      second = db.commit(DeliveryFixture.event(topic, "account-9", "T2, commits first")).getFirst();

      BatchResult beforeT1Commits = relay.runOnce();
      assertThat(beforeT1Commits.published()).isEqualTo(1);
      assertThat(db.outboxRow(second.id())).containsEntry("status", "PUBLISHED");

      t1.commit();
    }
    BatchResult afterT1Commits = relay.runOnce();

    assertThat(afterT1Commits.published()).isEqualTo(1);
    assertThat(db.outboxRow(first.id())).containsEntry("status", "PUBLISHED");
    assertThat((Long) db.outboxRow(first.id()).get("seq"))
        .as("T1 took its sequence number first, and was still not skipped")
        .isLessThan((Long) db.outboxRow(second.id()).get("seq"));
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());
    await().atMost(WAIT).until(() -> db.effectRows(name) == 2);
    assertThat(db.appliedOrder(name)).containsExactly(second.id(), first.id());
  }

  @Test
  void twoRelaysOnOneOutbox_publishEveryOneOfTwoThousandEvents_andEachEffectIsAppliedOnce() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("two-relays"), 3);
    String name = "two-relays-" + shortId();
    int transactions = 20;
    int perTransaction = 100;
    Set<UUID> ids = new HashSet<>();
    for (int t = 0; t < transactions; t++) {
      Event.Builder[] batch = new Event.Builder[perTransaction];
      for (int i = 0; i < perTransaction; i++) {
        batch[i] = DeliveryFixture.event(topic, "customer-" + (i % 40), "tx " + t + " event " + i);
      }
      db.commit(batch).forEach(e -> ids.add(e.id()));
    }
    MeterRegistry registryA = new SimpleMeterRegistry();
    MeterRegistry registryB = new SimpleMeterRegistry();
    Relay a =
        db.closeLater(
            db.relay(db.transport())
                .relayId("relay-a")
                .batchSize(100)
                .meterRegistry(registryA)
                .build());
    Relay b =
        db.closeLater(
            db.relay(db.transport())
                .relayId("relay-b")
                .batchSize(100)
                .meterRegistry(registryB)
                .build());
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    a.start();
    b.start();
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == ids.size());

    assertThat(db.effectRows(name)).as("no effect applied twice").isEqualTo(2_000);
    assertThat(
            db.queryLong(
                "SELECT count(*) FROM courier_outbox WHERE destination = ? AND status ="
                    + " 'PUBLISHED'",
                topic))
        .isEqualTo(2_000);
    assertThat(new HashSet<>(TestKafka.eventIds(TestKafka.readAll(topic))))
        .containsExactlyInAnyOrderElementsOf(ids.stream().map(UUID::toString).toList());
    assertThat(published(registryA) + published(registryB)).isGreaterThanOrEqualTo(2_000);
  }

  @Test
  void
      eventOverTheBrokersRecordLimit_isParkedDeadByTheRelayWithTheBrokersError_andNothingIsDroppedSilently() {
    String topic =
        TestKafka.createTopic(
            TestKafka.uniqueTopic("too-large"), 1, Map.of("max.message.bytes", "16384"));
    Relay relay = db.closeLater(db.relay(db.transport()).build());
    List<Event> events =
        db.commit(
            Event.builder("ReportGenerated")
                .destination(topic)
                .key("r")
                .payload(new byte[64 * 1024]),
            DeliveryFixture.event(topic, "s", "small"));
    Event big = events.get(0);
    Event small = events.get(1);

    await()
        .atMost(WAIT)
        .until(
            () -> {
              relay.runOnce();
              return !"PENDING".equals(db.outboxRow(big.id()).get("status"))
                  && !"PENDING".equals(db.outboxRow(small.id()).get("status"));
            });

    assertThat(db.outboxRow(big.id()))
        .containsEntry("status", "DEAD")
        .containsEntry("attempts", 1)
        .hasEntrySatisfying(
            "last_error", e -> assertThat((String) e).contains("RecordTooLargeException"));
    assertThat(db.outboxRow(small.id())).containsEntry("status", "PUBLISHED");
  }

  @Test
  void relayDeletingPublishedRows_deliversEveryEventOnce_leavesNoPublishedRow_andKeepsTheDeadOne() {
    String topic =
        TestKafka.createTopic(
            TestKafka.uniqueTopic("delete-published"), 2, Map.of("max.message.bytes", "16384"));
    String name = "delete-published-" + shortId();
    Relay relay = db.closeLater(db.relay(db.transport()).deletePublished(true).batchSize(16).build());
    List<Event> small = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Event.Builder[] batch = new Event.Builder[20];
      for (int j = 0; j < batch.length; j++) {
        batch[j] = DeliveryFixture.event(topic, "k-" + (j % 7), "event " + i + "/" + j);
      }
      small.addAll(db.commit(batch));
    }
    Event big =
        db.commit(Event.builder("ReportGenerated").destination(topic).key("r").payload(new byte[64 * 1024]))
            .getFirst();
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    relay.start();
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == small.size());
    await().atMost(WAIT).until(() -> "DEAD".equals(db.outboxRow(big.id()).get("status")));

    assertThat(db.effectRows(name)).as("each effect applied once").isEqualTo(small.size());
    assertThat(
            db.queryLong("SELECT count(*) FROM courier_outbox WHERE destination = ?", topic))
        .as("the confirmed rows are gone; the dead one stays for the operator")
        .isEqualTo(1);
    assertThat(db.outboxRow(big.id()))
        .hasEntrySatisfying(
            "last_error", e -> assertThat((String) e).contains("RecordTooLargeException"));
  }

  @Test
  void oneRelayWithSeveralBatchesInFlight_publishesEachKeysEventsInCommitOrder_howeverTheBatchesOverlap() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("in-flight-order"), 3);
    int keys = 12;
    int perKey = 60;
    List<Event.Builder> all = new ArrayList<>();
    for (int i = 0; i < perKey; i++) {
      for (int k = 0; k < keys; k++) {
        all.add(DeliveryFixture.event(topic, "key-" + k, String.valueOf(i)));
      }
    }
    // commit in several transactions, so that seq order is commit order
    for (int from = 0; from < all.size(); from += 90) {
      db.commit(all.subList(from, Math.min(all.size(), from + 90)).toArray(Event.Builder[]::new));
    }
    // Each batch waits a different, random time before it is sent: without the per-key rule a
    // later batch would overtake an earlier one holding the same key.
    KafkaTransport kafka = db.transport();
    java.util.Random random = new java.util.Random(7);
    Transport unevenlySlow =
        new Transport() {
          @Override
          public String name() {
            return kafka.name();
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            int delay;
            synchronized (random) {
              delay = random.nextInt(40);
            }
            try {
              Thread.sleep(delay);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return kafka.publish(batch, timeout);
          }
        };
    MeterRegistry registry = new SimpleMeterRegistry();
    Relay relay =
        db.closeLater(
            db.relay(unevenlySlow).batchSize(16).batchesInFlight(4).meterRegistry(registry).build());

    relay.start();
    await()
        .atMost(WAIT)
        .until(
            () ->
                db.queryLong(
                        "SELECT count(*) FROM courier_outbox WHERE destination = ? AND status ="
                            + " 'PUBLISHED'",
                        topic)
                    == keys * perKey);

    Map<String, List<Integer>> sequenceByKey = new java.util.TreeMap<>();
    List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>> records =
        new ArrayList<>(TestKafka.readAll(topic));
    records.sort(java.util.Comparator.comparingLong(r -> r.offset()));
    for (var r : records) {
      sequenceByKey
          .computeIfAbsent(new String(r.key(), java.nio.charset.StandardCharsets.UTF_8), k -> new ArrayList<>())
          .add(Integer.parseInt(new String(r.value(), java.nio.charset.StandardCharsets.UTF_8)));
    }
    assertThat(sequenceByKey).hasSize(keys);
    for (Map.Entry<String, List<Integer>> e : sequenceByKey.entrySet()) {
      assertThat(e.getValue()).as("events of %s in the order they were published", e.getKey()).isSorted();
      assertThat(new HashSet<>(e.getValue())).hasSize(perKey);
    }
    assertThat(published(registry)).isGreaterThanOrEqualTo(keys * perKey);
  }

  @Test
  void lateCommitBelowWhereTheDrainHasGot_isPublished_andHoldsBackTheLaterEventOfItsKey() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("late-below-hint"), 1);
    KafkaTransport kafka = db.transport();
    // 20 ms per batch of 10: the drain takes long enough to be past the late row while batches are
    // still full, so its claims start where the previous batch started rather than at the index's
    // start
    Transport slow =
        new Transport() {
          @Override
          public String name() {
            return kafka.name();
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            try {
              Thread.sleep(20);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return kafka.publish(batch, timeout);
          }
        };
    Event late;
    Event after;
    try (Connection t1 = db.dataSource().getConnection()) {
      t1.setAutoCommit(false);
      // takes the lowest sequence number of the test, commits once the drain is past it
      late = db.outbox().append(t1, DeliveryFixture.event(topic, "account-late", "first"));
      commitMany(topic, "before", 200);
      Relay relay = db.closeLater(db.relay(slow).batchSize(10).build());
      relay.start();
      await().atMost(WAIT).until(() -> db.queryLong(
          "SELECT count(*) FROM courier_outbox WHERE destination = ? AND status = 'PUBLISHED'", topic) >= 30);
      t1.commit();
    }
    // commits after the late row, so it must come after it
    after = db.commit(DeliveryFixture.event(topic, "account-late", "second")).getFirst();
    commitMany(topic, "after", 100);

    await().atMost(WAIT).until(() -> db.queryLong(
        "SELECT count(*) FROM courier_outbox WHERE destination = ? AND status = 'PUBLISHED'", topic) == 302);
    List<String> ids = TestKafka.eventIds(TestKafka.readAll(topic));
    assertThat(ids).contains(late.id().toString(), after.id().toString());
    assertThat(ids.indexOf(late.id().toString()))
        .as("the late commit is on the partition before the later event of its key")
        .isLessThan(ids.indexOf(after.id().toString()));
  }

  private void commitMany(String topic, String prefix, int n) {
    Event.Builder[] events = new Event.Builder[n];
    for (int i = 0; i < n; i++) {
      events[i] = DeliveryFixture.event(topic, prefix + "-" + i, prefix + " " + i);
    }
    db.commit(events);
  }

  private static double published(MeterRegistry registry) {
    return registry.find(CourierMetrics.RELAY_PUBLISHED).counters().stream()
        .mapToDouble(c -> c.count())
        .sum();
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * Publishes through the real transport, then reports the first {@code n} confirmed events as
   * failed: the broker has them, the relay does not know.
   */
  private static final class DroppingConfirmations implements Transport {
    private final Transport delegate;
    private final AtomicInteger toDrop;
    private final AtomicInteger dropped = new AtomicInteger();

    DroppingConfirmations(Transport delegate, int n) {
      this.delegate = delegate;
      this.toDrop = new AtomicInteger(n);
    }

    @Override
    public String name() {
      return delegate.name();
    }

    @Override
    public List<PublishResult> publish(List<Event> batch, Duration timeout) {
      List<PublishResult> results = new ArrayList<>(delegate.publish(batch, timeout));
      for (int i = 0; i < results.size(); i++) {
        if (results.get(i) instanceof PublishResult.Confirmed c && toDrop.getAndDecrement() > 0) {
          dropped.incrementAndGet();
          results.set(
              i,
              new PublishResult.Failed(
                  c.eventId(),
                  new RetriableCourierException(
                      "confirmation lost (simulated)", c.eventId(), null, null),
                  true));
        }
      }
      return results;
    }

    int dropped() {
      return dropped.get();
    }
  }
}
