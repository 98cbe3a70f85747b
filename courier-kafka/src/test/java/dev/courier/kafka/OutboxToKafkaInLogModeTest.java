package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Relay.ClaimMode#LOG} from the outbox through a real Kafka broker to an idempotent
 * consumer: several relays sharing the partitions deliver every event, each effect applied once
 * and each key's events on the topic in the order they were appended; a relay that hangs after
 * publishing loses its partitions when its lease ends, and the event it held is delivered by the
 * survivor and applied once; an event the broker refuses is parked dead with its key's later events
 * while the other keys are delivered.
 */
class OutboxToKafkaInLogModeTest {
  private static final Duration WAIT = Duration.ofSeconds(90);

  static DeliveryFixture db;

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("outbox_to_kafka_log", Relay.ClaimMode.LOG);
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
  void threeRelaysSharingThePartitions_deliverEveryEventOnce_inEachKeysAppendOrder() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("log-three-relays"), 3);
    String name = "log-three-relays-" + UUID.randomUUID().toString().substring(0, 8);
    int keys = 30;
    int rounds = 40;
    Set<UUID> ids = new HashSet<>();
    List<Relay> relays = new ArrayList<>();
    for (String id : List.of("relay-a", "relay-b", "relay-c")) {
      relays.add(
          db.closeLater(
              db.relay(db.transport())
                  .relayId(id)
                  .batchSize(50)
                  .lease(Duration.ofSeconds(6))
                  .publishTimeout(Duration.ofSeconds(2))
                  .build()));
    }
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    for (int round = 0; round < rounds; round++) {
      Event.Builder[] tx = new Event.Builder[keys];
      for (int k = 0; k < keys; k++) {
        tx[k] = DeliveryFixture.event(topic, "customer-" + k, String.valueOf(round));
      }
      db.commit(tx).forEach(e -> ids.add(e.id()));
      if (round < relays.size()) {
        relays.get(round).start();
      }
    }
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == ids.size());

    assertThat(db.effectRows(name)).as("no effect applied twice").isEqualTo(ids.size());
    Map<String, List<Integer>> firstArrivals = new TreeMap<>();
    List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>(TestKafka.readAll(topic));
    records.sort(Comparator.comparingLong(ConsumerRecord::offset));
    for (var r : records) {
      List<Integer> seen =
          firstArrivals.computeIfAbsent(new String(r.key(), StandardCharsets.UTF_8), k -> new ArrayList<>());
      int value = Integer.parseInt(new String(r.value(), StandardCharsets.UTF_8));
      if (!seen.contains(value)) {
        seen.add(value);
      }
    }
    assertThat(firstArrivals).hasSize(keys);
    firstArrivals.forEach(
        (key, values) -> assertThat(values).as("first arrivals of %s", key).isSorted().hasSize(rounds));
    assertThat(db.queryLong("SELECT count(*) FROM courier_outbox WHERE destination = ? AND status = 'LOG'", topic))
        .as("no row was written on the success path")
        .isEqualTo(keys * rounds);
  }

  @Test
  void relayHangingAfterItPublished_losesItsPartitionsWhenItsLeaseEnds_andTheEventIsAppliedOnce() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("log-hung-relay"), 1);
    String name = "log-hung-relay-" + UUID.randomUUID().toString().substring(0, 8);
    CountDownLatch never = new CountDownLatch(1);
    Transport freezing = DeliveryFixture.freezingAfterPublish(db.transport(), never);
    Relay hung =
        db.relay(freezing).relayId("hung").lease(Duration.ofSeconds(3)).publishTimeout(Duration.ofMillis(1000)).build();
    Event event = db.commit(DeliveryFixture.event(topic, "order-7", "ship once")).getFirst();
    Thread hungPass = Thread.ofVirtual().start(hung::runOnce);
    await().atMost(WAIT).until(() -> TestKafka.readAll(topic).size() == 1);

    Relay survivor =
        db.closeLater(
            db.relay(db.transport())
                .relayId("survivor")
                .lease(Duration.ofSeconds(3))
                .publishTimeout(Duration.ofMillis(1000))
                .build());
    survivor.start();
    await().atMost(WAIT).until(() -> TestKafka.readAll(topic).size() == 2);
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == 1);

    assertThat(TestKafka.eventIds(TestKafka.readAll(topic)))
        .as("published by the hung relay, then again by the survivor")
        .containsExactly(event.id().toString(), event.id().toString());
    assertThat(db.effects(name, event.id())).isEqualTo(1);
    never.countDown();
    try {
      hungPass.join(Duration.ofSeconds(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // unregisters it: the relays of the next test count it among the live ones until then
    hung.close();
  }

  @Test
  void eventOverTheBrokersLimit_isParkedDead_withItsKeysLaterEvents_whileOtherKeysAreDelivered() {
    String topic =
        TestKafka.createTopic(TestKafka.uniqueTopic("log-too-large"), 1, Map.of("max.message.bytes", "16384"));
    String name = "log-too-large-" + UUID.randomUUID().toString().substring(0, 8);
    Relay relay = db.closeLater(db.relay(db.transport()).build());
    Event big =
        db.commit(Event.builder("ReportGenerated").destination(topic).key("r").payload(new byte[64 * 1024]))
            .getFirst();
    relay.start();
    await().atMost(WAIT).until(() -> "DEAD".equals(db.outboxRow(big.id()).get("status")));
    List<Event> later =
        db.commit(DeliveryFixture.event(topic, "r", "after the big one"), DeliveryFixture.event(topic, "s", "other key"));
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());

    await().atMost(WAIT).until(() -> db.distinctEffects(name) == 1);
    await().atMost(WAIT).until(() -> "PARKED".equals(db.outboxRow(later.get(0).id()).get("status")));
    assertThat(db.outboxRow(big.id()))
        .hasEntrySatisfying("last_error", e -> assertThat((String) e).contains("RecordTooLargeException"));
    assertThat(db.effects(name, later.get(1).id())).isEqualTo(1);
    assertThat(db.effects(name, later.get(0).id())).as("parked behind the dead event of its key").isZero();
  }
}
