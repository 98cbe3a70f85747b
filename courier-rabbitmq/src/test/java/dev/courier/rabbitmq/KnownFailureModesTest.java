package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.courier.Event;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.SubscriptionSpec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Failure modes that have lost events with RabbitMQ, each shown twice on the real broker and
 * PostgreSQL: first the unprotected way fails (the contrast), then Courier's way does not. The
 * table in {@code docs/RELIABILITY.md} ("Known failure modes") lists them with the other
 * transports' tests.
 */
@Tag("known-failure-mode")
class KnownFailureModesTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static TestSchema db;

  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final Outbox outbox = Outbox.builder().build();
  private RabbitMqTransport transport;
  private Connection admin;

  @BeforeAll
  static void createSchema() {
    TestRabbit.require();
    db = new TestSchema("known_failures_rabbitmq");
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
    for (AutoCloseable c : closeables.reversed()) {
      c.close();
    }
    cleanup.close();
    admin.close();
  }

  private Event commit(Event.Builder event) throws Exception {
    try (java.sql.Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      Event stored = outbox.append(c, event);
      c.commit();
      return stored;
    }
  }

  /**
   * Guards: {@link RabbitMqTransport} publishes with {@code mandatory} and a return listener, and
   * reports a returned message as failed although the broker confirms it; the relay keeps the row
   * pending, then parks it dead, never marks it published. Without it: a publisher that relies on
   * the confirm alone is told "confirmed" for a message that no queue holds, and marks it done.
   */
  @Test
  @DisplayName("known failure mode: an unroutable message confirmed")
  void unroutableMessage_isConfirmedByTheBrokerToAPlainPublisher_butNeverMarkedPublishedByCourier() throws Exception {
    String destination = cleanup.destination(TestRabbit.uniqueDestination("kfm-unroutable"));
    transport.declareTopology(destination); // the exchange, and no queue bound to it

    boolean confirmed;
    try (Channel plain = admin.createChannel()) {
      plain.confirmSelect();
      plain.basicPublish(
          destination,
          "order-1",
          new AMQP.BasicProperties.Builder().deliveryMode(2).build(),
          "into the void".getBytes(StandardCharsets.UTF_8));
      confirmed = plain.waitForConfirms(10_000);
    }
    assertThat(confirmed).as("the broker confirms the message it dropped").isTrue();

    Event event = commit(TestSchema.event(destination, "order-1", "into the void?"));
    Relay relay =
        Relay.builder(db.dataSource(), transport)
            .retryPolicy(
                RetryPolicy.builder().maxAttempts(3).initialDelay(Duration.ofMillis(10)).maxDelay(Duration.ofMillis(20)).build())
            .publishTimeout(Duration.ofSeconds(5))
            .lease(Duration.ofSeconds(10))
            .build();
    closeables.add(relay);
    List<Object> statuses = new ArrayList<>();
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              relay.runOnce();
              Object status = db.outboxRow(event.id()).get("status");
              statuses.add(status);
              return "DEAD".equals(status);
            });
    assertThat(statuses).doesNotContain("PUBLISHED");
    assertThat((String) db.outboxRow(event.id()).get("last_error")).contains("unroutable");
  }

  /**
   * Guards: {@link RabbitMqSubscription} consumes with manual acks and acks only after the effect
   * and the ledger row committed; auto-ack is refused at build ({@code RabbitMqConfigurationTest}).
   * Without it: a consumer with auto-ack has acknowledged the message on delivery; when it dies
   * before its database commit, the message is gone from the queue and the effect never happens.
   */
  @Test
  @DisplayName("known failure mode: ack before durable commit (RabbitMQ auto-ack)")
  void autoAckedMessage_isLostWhenTheConsumerDiesBeforeItsCommit_whileCourierGetsItAgain() throws Exception {
    String consumer = "kfm-ack-" + UUID.randomUUID().toString().substring(0, 8);
    String naive = consumer + "-naive";
    String destination = cleanup.destination(TestRabbit.uniqueDestination("kfm-ack"));
    String naiveQueue = cleanup.queue(transport.declareTopology(destination, naive));
    cleanup.queue(transport.declareTopology(destination, consumer));
    Event event = TestSchema.event(destination, "order-2", "ship it").build();
    assertThat(transport.publish(List.of(event), Duration.ofSeconds(10)))
        .allMatch(r -> r instanceof dev.courier.spi.PublishResult.Confirmed);

    // the contrast: auto-ack, then die inside the database transaction
    GetResponse got = await().atMost(WAIT).until(() -> TestRabbit.take(admin, naiveQueue), r -> r != null);
    assertThat(got.getEnvelope().isRedeliver()).isFalse();
    try (java.sql.Connection c = db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      TestSchema.recordingEffect(naive).handle(event, c);
      c.rollback(); // the process died before its commit
    }
    assertThat(TestRabbit.ready(admin, naiveQueue)).as("acked on delivery: nothing comes back").isZero();
    assertThat(TestRabbit.take(admin, naiveQueue)).isNull();
    assertThat(db.effectRows(naive)).isZero();

    // Courier: the consumer dies inside the handler, before its commit
    CountDownLatch inHandler = new CountDownLatch(1);
    CountDownLatch crashed = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    EventHandler effect = TestSchema.recordingEffect(consumer);
    IdempotentProcessor processor =
        db.processor(
            consumer,
            (e, c) -> {
              if (calls.incrementAndGet() == 1) {
                inHandler.countDown();
                crashed.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                throw new IllegalStateException("process died before commit");
              }
              effect.handle(e, c);
            },
            new SimpleMeterRegistry());
    RabbitMqSubscription dying = transport.subscribe(SubscriptionSpec.of(destination), processor);
    closeables.add(dying);
    assertThat(inHandler.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    Thread crasher = Thread.ofVirtual().start(dying::crash);
    Thread.sleep(200);
    crashed.countDown();
    crasher.join(WAIT);
    await().atMost(WAIT).until(() -> !dying.isRunning());

    RabbitMqSubscription next = transport.subscribe(SubscriptionSpec.of(destination), processor);
    closeables.add(next);
    await().atMost(WAIT).until(() -> db.effects(consumer, event.id()) == 1);
  }
}
