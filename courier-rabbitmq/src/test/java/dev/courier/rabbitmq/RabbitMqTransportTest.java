package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.RetriableCourierException;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.PublishResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Publishing on a real RabbitMQ: what counts as confirmed, and every way a publish can fail. */
class RabbitMqTransportTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private Connection admin;

  @BeforeEach
  void requireBroker() {
    TestRabbit.require();
    admin = TestRabbit.admin();
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables.reversed()) {
      c.close();
    }
    cleanup.close();
    admin.close();
  }

  private RabbitMqTransport transport(RabbitMqTransport.Builder builder) {
    RabbitMqTransport t = builder.build();
    closeables.add(t);
    return t;
  }

  private static Event event(String destination, String key, String payload) {
    return TestSchema.event(destination, key, payload).header("tenant", "acme").causationId("cmd-1").build(Instant.now());
  }

  @Test
  void publish_toADestinationWithABoundQueue_isConfirmed_andTheMessageCarriesTheEvent() {
    RabbitMqTransport transport = transport(TestRabbit.transport());
    String destination = cleanup.destination(TestRabbit.uniqueDestination("confirmed"));
    String queue = cleanup.queue(transport.declareTopology(destination, "billing"));
    Event event = event(destination, "order-1", "{\"total\":42}");

    List<PublishResult> results = transport.publish(List.of(event), TIMEOUT);

    assertThat(results).singleElement().isInstanceOf(PublishResult.Confirmed.class);
    assertThat(queue).isEqualTo(destination + ".billing");
    GetResponse message = TestRabbit.take(admin, queue);
    assertThat(message).isNotNull();
    AMQP.BasicProperties props = message.getProps();
    assertThat(new String(message.getBody(), StandardCharsets.UTF_8)).isEqualTo("{\"total\":42}");
    assertThat(message.getEnvelope().getExchange()).isEqualTo(destination);
    assertThat(message.getEnvelope().getRoutingKey()).isEqualTo("order-1");
    assertThat(props.getMessageId()).isEqualTo(event.id().toString());
    assertThat(props.getDeliveryMode()).as("persistent").isEqualTo(2);
    assertThat(props.getType()).isEqualTo("OrderPlaced");
    assertThat(props.getHeaders())
        .extractingFromEntries(e -> e.getKey() + "=" + e.getValue())
        .contains(
            "courier-event-id=" + event.id(),
            "courier-event-type=OrderPlaced",
            "courier-event-key=order-1",
            "courier-correlation-id=corr-order-1",
            "courier-causation-id=cmd-1",
            "courier-created-at=" + event.createdAt(),
            "tenant=acme");

    Decoded decoded =
        AmqpMessages.decode(message.getBody(), props, destination, 1024, Instant.EPOCH);
    assertThat(decoded).isEqualTo(new Decodable(event));
  }

  @Test
  void publish_toAnExchangeWithNoBoundQueue_isReportedFailedAsUnroutable_althoughTheBrokerConfirmsIt() {
    RabbitMqTransport transport = transport(TestRabbit.transport());
    String destination = cleanup.destination(TestRabbit.uniqueDestination("unroutable"));
    transport.declareTopology(destination); // the exchange exists, no queue is bound to it
    Event event = event(destination, "order-2", "lost?");

    List<PublishResult> results = transport.publish(List.of(event), TIMEOUT);

    assertThat(results).singleElement().isInstanceOfSatisfying(PublishResult.Failed.class, f -> {
      assertThat(f.retriable()).isTrue();
      assertThat(f.error())
          .isInstanceOf(RetriableCourierException.class)
          .hasMessageContaining("unroutable: no queue bound for exchange '" + destination + "' routing key 'order-2'")
          .hasMessageContaining(event.id().toString());
    });
  }

  @Test
  void publish_ofABatchMixingRoutableAndUnroutableEvents_failsOnlyTheUnroutableOnes_inBatchOrder() throws Exception {
    RabbitMqTransport transport = transport(TestRabbit.transport());
    String routed = cleanup.destination(TestRabbit.uniqueDestination("routed"));
    String unrouted = cleanup.destination(TestRabbit.uniqueDestination("unrouted"));
    String queue = cleanup.queue(transport.declareTopology(routed, "billing"));
    transport.declareTopology(unrouted);
    List<Event> batch = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      batch.add(event(i % 10 == 3 ? unrouted : routed, "key-" + (i % 7), "n" + i));
    }

    List<PublishResult> results = transport.publish(batch, TIMEOUT);

    assertThat(results).hasSize(200);
    for (int i = 0; i < 200; i++) {
      assertThat(results.get(i).eventId()).isEqualTo(batch.get(i).id());
      if (i % 10 == 3) {
        assertThat(results.get(i)).as("event %d", i).isInstanceOf(PublishResult.Failed.class);
      } else {
        assertThat(results.get(i)).as("event %d", i).isInstanceOf(PublishResult.Confirmed.class);
      }
    }
    assertThat(TestRabbit.ready(admin, queue)).isEqualTo(180);
  }

  @Test
  void publish_toAMissingExchange_failsRetriably_andTheNextPublishOpensANewChannel() {
    RabbitMqTransport transport = transport(TestRabbit.transport().declareTopology(false));
    String missing = TestRabbit.uniqueDestination("missing");
    String present = cleanup.destination(TestRabbit.uniqueDestination("present"));
    String queue = cleanup.queue(transport.declareTopology(present, "billing"));

    List<PublishResult> first = transport.publish(List.of(event(missing, "k", "a"), event(present, "k", "b")), TIMEOUT);

    assertThat(first).allSatisfy(r -> assertThat(r).isInstanceOfSatisfying(PublishResult.Failed.class, f -> assertThat(f.retriable()).isTrue()));
    assertThat(((PublishResult.Failed) first.getFirst()).error()).hasMessageContaining("NOT_FOUND").hasMessageContaining(missing);

    List<PublishResult> second = transport.publish(List.of(event(present, "k", "c")), TIMEOUT);

    assertThat(second).singleElement().isInstanceOf(PublishResult.Confirmed.class);
    assertThat(new String(TestRabbit.take(admin, queue).getBody(), StandardCharsets.UTF_8)).isEqualTo("c");
  }

  @Test
  void publish_whenTheChannelClosesMidBatch_failsEveryUnconfirmedEventRetriably_andConfirmsOnlyWhatTheQueueHolds() {
    RabbitMqTransport transport = transport(TestRabbit.transport().declareTopology(false));
    String present = cleanup.destination(TestRabbit.uniqueDestination("mid-batch"));
    String queue = cleanup.queue(transport.declareTopology(present, "billing"));
    List<Event> batch = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      // the broker closes the channel at the event to a missing exchange, with earlier ones in flight
      batch.add(event(i == 150 ? TestRabbit.uniqueDestination("missing") : present, "k", "n" + i));
    }

    List<PublishResult> results = transport.publish(batch, TIMEOUT);

    long confirmed = results.stream().filter(r -> r instanceof PublishResult.Confirmed).count();
    assertThat(results.subList(150, 300))
        .allSatisfy(r -> assertThat(r).isInstanceOfSatisfying(PublishResult.Failed.class, f -> assertThat(f.retriable()).isTrue()));
    assertThat(results)
        .filteredOn(r -> r instanceof PublishResult.Failed)
        .allSatisfy(r -> assertThat(((PublishResult.Failed) r).retriable()).isTrue());
    assertThat(TestRabbit.ready(admin, queue)).as("every confirmed event is in the queue").isGreaterThanOrEqualTo(confirmed);
    assertThat(transport.publish(List.of(event(present, "k", "after")), TIMEOUT))
        .as("the next publish opens a new channel")
        .singleElement()
        .isInstanceOf(PublishResult.Confirmed.class);
  }

  @Test
  void publish_ofEventsThatCanNeverBeSent_failsThemNonRetriably_andSendsTheOthers() {
    RabbitMqTransport transport = transport(TestRabbit.transport().maxMessageBytes(1024));
    String destination = cleanup.destination(TestRabbit.uniqueDestination("invalid"));
    String queue = cleanup.queue(transport.declareTopology(destination, "billing"));
    List<Event> batch =
        List.of(
            event(destination, "k", "x".repeat(2000)),
            TestSchema.event(destination, "k", "p").header("courier-event-id", "forged").build(),
            TestSchema.event(destination, "k", "p").header("x-delay", "1000").build(),
            event("no spaces allowed", "k", "p"),
            event(destination, "k".repeat(256), "p"),
            event(destination, "k", "fine"));

    List<PublishResult> results = transport.publish(batch, TIMEOUT);

    for (int i = 0; i < 5; i++) {
      assertThat(results.get(i))
          .as("event %d", i)
          .isInstanceOfSatisfying(PublishResult.Failed.class, f -> {
            assertThat(f.retriable()).isFalse();
            assertThat(f.error()).isInstanceOf(InvalidEventException.class);
          });
    }
    assertThat(((PublishResult.Failed) results.get(0)).error()).hasMessageContaining("over the limit of 1024 bytes");
    assertThat(((PublishResult.Failed) results.get(1)).error()).hasMessageContaining("'courier-event-id'");
    assertThat(((PublishResult.Failed) results.get(2)).error()).hasMessageContaining("'x-delay'");
    assertThat(((PublishResult.Failed) results.get(3)).error()).hasMessageContaining("characters AMQP does not allow");
    assertThat(((PublishResult.Failed) results.get(4)).error()).hasMessageContaining("routing key is 256 bytes");
    assertThat(results.get(5)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(TestRabbit.ready(admin, queue)).isEqualTo(1);
  }

  @Test
  void publish_whenTheBrokerIsUnreachable_failsEveryEventRetriably_withoutRevealingThePassword() {
    RabbitMqTransport transport =
        transport(
            RabbitMqTransport.builder()
                .uri("amqp://courier:s3cret-pw@127.0.0.1:1/orders")
                .connectionTimeout(Duration.ofSeconds(2)));
    List<Event> batch = List.of(event("orders", "k", "a"), event("orders", "k", "b"));

    List<PublishResult> results = transport.publish(batch, TIMEOUT);

    assertThat(results)
        .hasSize(2)
        .allSatisfy(r -> assertThat(r).isInstanceOfSatisfying(PublishResult.Failed.class, f -> {
          assertThat(f.retriable()).isTrue();
          assertThat(f.error().getMessage())
              .contains("cannot connect to RabbitMQ at amqp://127.0.0.1:1 (virtual host 'orders', user 'courier')")
              .doesNotContain("s3cret-pw");
        }));
    assertThat(transport.toString()).doesNotContain("s3cret-pw");
  }

  @Test
  void declaredQueue_hasAnExplicitDeliveryLimit_afterWhichTheBrokerDeadLettersTheMessage() throws Exception {
    RabbitMqTransport transport = transport(TestRabbit.transport().deliveryLimit(2));
    String destination = cleanup.destination(TestRabbit.uniqueDestination("limit"));
    String queue = cleanup.queue(transport.declareTopology(destination, "billing"));
    Event event = event(destination, "k", "fails every time");
    assertThat(transport.publish(List.of(event), TIMEOUT)).singleElement().isInstanceOf(PublishResult.Confirmed.class);

    int deliveries = 0;
    try (Channel ch = admin.createChannel()) {
      for (GetResponse r = ch.basicGet(queue, false); r != null; r = ch.basicGet(queue, false)) {
        deliveries++;
        ch.basicNack(r.getEnvelope().getDeliveryTag(), false, true);
        assertThat(deliveries).as("the broker must stop redelivering").isLessThan(10);
      }
    }

    assertThat(deliveries).as("delivered once, then twice more up to the limit of 2 redeliveries").isEqualTo(3);
    String deadLetterQueue = RabbitMqTransport.deadLetterQueueName(queue);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> TestRabbit.ready(admin, deadLetterQueue) == 1);
    GetResponse dead = TestRabbit.take(admin, deadLetterQueue);
    assertThat(dead.getProps().getMessageId()).isEqualTo(event.id().toString());
    assertThat(dead.getProps().getHeaders()).containsKey("x-death");
  }

  @Test
  void declaringAQueueThatExistsWithOtherArguments_isRefusedAsAConfigurationError() {
    String destination = cleanup.destination(TestRabbit.uniqueDestination("mismatch"));
    cleanup.queue(transport(TestRabbit.transport().deliveryLimit(20)).declareTopology(destination, "billing"));
    RabbitMqTransport other =
        transport(TestRabbit.transport().queueType(RabbitMqTransport.QueueType.CLASSIC));

    assertThatThrownBy(() -> other.declareTopology(destination, "billing"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("PRECONDITION_FAILED")
        .hasMessageContaining(destination + ".billing");
  }

  @Test
  void aMessageFromAnotherProducer_isDecodedFromItsProperties_withoutTheBrokersHeaders() {
    String id = java.util.UUID.randomUUID().toString();
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .messageId(id)
            .type("Shipped")
            .headers(Map.of("x-delivery-count", 3L, "weight", 12, "urgent", true))
            .build();

    Decoded decoded = AmqpMessages.decode(new byte[] {1, 2}, props, "orders", 1024, Instant.EPOCH);

    assertThat(decoded).isInstanceOfSatisfying(Decodable.class, d -> {
      assertThat(d.event().id()).hasToString(id);
      assertThat(d.event().type()).isEqualTo("Shipped");
      assertThat(d.event().headers()).containsOnly(Map.entry("weight", "12"), Map.entry("urgent", "true"));
      assertThat(d.event().createdAt()).isEqualTo(Instant.EPOCH);
    });
  }
}
