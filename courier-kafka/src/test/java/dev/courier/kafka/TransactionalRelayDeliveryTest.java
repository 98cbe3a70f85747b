package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.relay.Relay;
import dev.courier.spi.SubscriptionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The transactional relay in the whole flow: outbox rows on PostgreSQL, the real {@link Relay}
 * publishing through {@link KafkaTransactionalTransport}, and a {@code read_committed} idempotent
 * consumer subscribed through the same transport.
 */
class TransactionalRelayDeliveryTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static DeliveryFixture db;

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("tx_relay");
  }

  @AfterEach
  void closeRelaysAndConsumers() {
    db.closeResources();
  }

  @AfterAll
  static void tearDown() {
    db.close();
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  private static KafkaTransactionalTransport.Builder transport(String transactionalId) {
    return KafkaTransactionalTransport.builder()
        .bootstrapServers(TestKafka.bootstrap())
        .transactionalId(transactionalId);
  }

  @Test
  void transactionalRelayOverTheOutbox_deliversEveryEvent_andEachEffectIsAppliedOnce() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-relay"), 3);
    String name = "tx-relay-" + shortId();
    String relayId = "tx-relay-" + shortId();
    Set<UUID> ids = new HashSet<>();
    for (int t = 0; t < 10; t++) {
      Event.Builder[] batch = new Event.Builder[50];
      for (int i = 0; i < batch.length; i++) {
        batch[i] = DeliveryFixture.event(topic, "customer-" + (i % 20), "tx " + t + " event " + i);
      }
      db.commit(batch).forEach(e -> ids.add(e.id()));
    }
    KafkaTransactionalTransport transport = db.closeLater(transport(relayId).build());
    transport.start();
    Relay relay = db.closeLater(db.relay(transport).relayId(relayId).batchSize(100).build());
    db.closeLater(
        transport.subscribe(
            SubscriptionSpec.of(topic).withOption("fetch.max.wait.ms", "50"),
            db.processor(name, DeliveryFixture.recordingEffect(name), DeliveryFixture.registry())
                .build()));

    relay.start();
    await().atMost(WAIT).until(() -> db.distinctEffects(name) == ids.size());

    assertThat(db.effectRows(name)).as("no effect applied twice").isEqualTo(500);
    assertThat(
            db.queryLong(
                "SELECT count(*) FROM courier_outbox WHERE destination = ? AND status ="
                    + " 'PUBLISHED'",
                topic))
        .isEqualTo(500);
    assertThat(TestKafka.eventIds(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topic)))
        .as("every event committed exactly once: no batch was aborted or repeated")
        .hasSize(500)
        .containsExactlyInAnyOrderElementsOf(ids.stream().map(UUID::toString).toList());
  }

  @Test
  void zombieRelay_isFencedAndStopped_whileTheLiveRelayWithTheSameIdDeliversItsEvents()
      throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-relay-zombie"), 1);
    String name = "tx-relay-zombie-" + shortId();
    String relayId = "relay-0-" + shortId();
    CompletableFuture<KafkaProducerFencedException> fenced = new CompletableFuture<>();
    List<Relay> zombieHolder = new ArrayList<>();
    KafkaTransactionalTransport zombieTransport =
        db.closeLater(
            transport(relayId)
                .onFenced(
                    f -> {
                      zombieHolder.getFirst().close();
                      fenced.complete(f);
                    })
                .build());
    Relay zombie = db.closeLater(db.relay(zombieTransport).relayId(relayId).build());
    zombieHolder.add(zombie);
    zombieTransport.start();
    Event first =
        db.commit(DeliveryFixture.event(topic, "k", "published by the old instance")).getFirst();
    assertThat(zombie.runOnce().published()).isEqualTo(1);

    // The old instance stalls; its replacement starts under the same id and fences it.
    KafkaTransactionalTransport liveTransport = db.closeLater(transport(relayId).build());
    liveTransport.start();
    Relay live = db.closeLater(db.relay(liveTransport).relayId(relayId).build());
    Event second =
        db.commit(DeliveryFixture.event(topic, "k", "published by the new instance")).getFirst();

    zombie.runOnce(); // wakes up, claims the new row, and learns it was fenced
    assertThat(fenced).succeedsWithin(Duration.ofSeconds(10));
    await().atMost(WAIT).until(() -> zombie.state() == Relay.State.STOPPED);
    await()
        .atMost(WAIT)
        .until(
            () -> {
              live.runOnce();
              return "PUBLISHED".equals(db.outboxRow(second.id()).get("status"));
            });
    db.start(db.consumer(name, topic, DeliveryFixture.registry()).build());
    await().atMost(WAIT).until(() -> db.effectRows(name) == 2);

    assertThat(db.appliedOrder(name)).containsExactly(first.id(), second.id());
    assertThat(TestKafka.eventIds(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topic)))
        .containsExactly(first.id().toString(), second.id().toString());
  }
}
