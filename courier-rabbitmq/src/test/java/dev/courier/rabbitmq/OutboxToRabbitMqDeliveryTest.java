package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.outbox.Outbox;
import dev.courier.relay.BatchResult;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.SubscriptionSpec;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole flow on real engines: the outbox row on PostgreSQL, the real {@link Relay} publishing
 * through {@link RabbitMqTransport}, and a subscription applying the effect with its ledger row.
 */
class OutboxToRabbitMqDeliveryTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final RetryPolicy THREE_QUICK_ATTEMPTS =
      RetryPolicy.builder()
          .maxAttempts(3)
          .initialDelay(Duration.ofMillis(10))
          .maxDelay(Duration.ofMillis(20))
          .jitter(false)
          .build();
  private static TestSchema db;

  private final Outbox outbox = Outbox.builder().build();
  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private RabbitMqTransport transport;

  @BeforeAll
  static void createSchema() {
    TestRabbit.require();
    db = new TestSchema("outbox_to_rabbitmq");
  }

  @AfterAll
  static void dropSchema() {
    if (db != null) {
      db.close();
    }
  }

  @BeforeEach
  void openTransport() {
    transport = TestRabbit.transport().build();
    closeables.add(transport);
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables.reversed()) {
      c.close();
    }
    cleanup.close();
  }

  private Relay relay() {
    Relay relay =
        Relay.builder(db.dataSource(), transport)
            .retryPolicy(THREE_QUICK_ATTEMPTS)
            .publishTimeout(Duration.ofSeconds(5))
            .lease(Duration.ofSeconds(10))
            .build();
    closeables.add(relay);
    return relay;
  }

  private Event commit(Event.Builder event) throws SQLException {
    try (Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      Event stored = outbox.append(c, event);
      c.commit();
      return stored;
    }
  }

  @Test
  void relay_marksAnEventPublishedOnlyOnceTheBrokerConfirmedIt_andTheSubscriptionAppliesItOnce() throws Exception {
    String consumer = "billing-" + UUID.randomUUID().toString().substring(0, 8);
    String destination = cleanup.destination(TestRabbit.uniqueDestination("orders"));
    cleanup.queue(transport.declareTopology(destination, consumer));
    MeterRegistry registry = new SimpleMeterRegistry();
    Event event = commit(TestSchema.event(destination, "order-7", "ship it"));
    Relay relay = relay();

    BatchResult pass = relay.runOnce();

    assertThat(pass.published()).isEqualTo(1);
    assertThat(db.outboxRow(event.id())).containsEntry("status", "PUBLISHED").containsEntry("attempts", 1);
    RabbitMqSubscription subscription =
        transport.subscribe(SubscriptionSpec.of(destination), db.processor(consumer, TestSchema.recordingEffect(consumer), registry));
    await().atMost(WAIT).until(() -> db.effects(consumer, event.id()) == 1);
    assertThat(subscription.received()).isEqualTo(1);
  }

  @Test
  void relay_neverMarksAnUnroutableEventPublished_keepsItPendingWithTheError_thenParksItDead() throws Exception {
    String destination = cleanup.destination(TestRabbit.uniqueDestination("nobody-listens"));
    transport.declareTopology(destination); // an exchange, and no queue bound to it
    Event event = commit(TestSchema.event(destination, "order-8", "into the void?"));
    Relay relay = relay();

    relay.runOnce();

    Map<String, Object> afterFirst = db.outboxRow(event.id());
    assertThat(afterFirst).containsEntry("status", "PENDING").containsEntry("attempts", 1);
    assertThat((String) afterFirst.get("last_error"))
        .contains("unroutable: no queue bound for exchange '" + destination + "' routing key 'order-8'");

    List<String> statuses = new ArrayList<>();
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              relay.runOnce();
              String status = (String) db.outboxRow(event.id()).get("status");
              statuses.add(status);
              return status.equals("DEAD");
            });

    assertThat(statuses).doesNotContain("PUBLISHED");
    Map<String, Object> dead = db.outboxRow(event.id());
    assertThat(dead).containsEntry("status", "DEAD").containsEntry("attempts", 3);
    assertThat((String) dead.get("last_error")).contains("unroutable");
  }
}
