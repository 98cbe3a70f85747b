package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.spi.PublishResult;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The transport against a real broker: what it writes, what it confirms, and what it refuses. */
class KafkaTransportTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private static KafkaTransport transport;

  @BeforeAll
  static void startTransport() {
    transport =
        KafkaTransport.builder()
            .bootstrapServers(TestKafka.bootstrap())
            .clientId("transport-test")
            .build();
  }

  @AfterAll
  static void closeTransport() {
    transport.close();
  }

  @Test
  void publish_confirmsEachEventWithItsPosition_andWritesTheEventAsOneRecordWithCourierHeaders() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("shape"), 3);
    Instant created = Instant.parse("2025-03-01T10:15:30.123456Z");
    Event full =
        Event.builder("OrderPlaced")
            .destination(topic)
            .key("order-7")
            .payload("{\"total\":12}")
            .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .header("tenant", "acme-é")
            .correlationId("corr-1")
            .causationId("cause-1")
            .createdAt(created)
            .build();
    Event bare = Event.builder("Ping").destination(topic).build();

    List<PublishResult> results = transport.publish(List.of(full, bare), TIMEOUT);

    assertThat(results)
        .hasSize(2)
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    PublishResult.Confirmed first = (PublishResult.Confirmed) results.getFirst();
    assertThat(first.eventId()).isEqualTo(full.id());
    assertThat(first.position()).matches(topic + "-\\d@\\d+");
    assertThat(first.brokerDuplicate()).isFalse();

    List<ConsumerRecord<byte[], byte[]>> records = TestKafka.readAll(topic);
    ConsumerRecord<byte[], byte[]> r =
        records.stream()
            .filter(x -> header(x, KafkaHeaders.EVENT_ID).equals(full.id().toString()))
            .findFirst()
            .orElseThrow();
    assertThat(first.position()).isEqualTo(topic + "-" + r.partition() + "@" + r.offset());
    assertThat(new String(r.key(), StandardCharsets.UTF_8)).isEqualTo("order-7");
    assertThat(new String(r.value(), StandardCharsets.UTF_8)).isEqualTo("{\"total\":12}");
    assertThat(r.partition()).isEqualTo(TestKafka.partitionOf("order-7", 3));
    assertThat(header(r, KafkaHeaders.EVENT_TYPE)).isEqualTo("OrderPlaced");
    assertThat(header(r, KafkaHeaders.CORRELATION_ID)).isEqualTo("corr-1");
    assertThat(header(r, KafkaHeaders.CAUSATION_ID)).isEqualTo("cause-1");
    assertThat(header(r, KafkaHeaders.CREATED_AT)).isEqualTo("2025-03-01T10:15:30.123456Z");
    assertThat(header(r, "traceparent"))
        .isEqualTo("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assertThat(header(r, "tenant")).isEqualTo("acme-é");

    ConsumerRecord<byte[], byte[]> b =
        records.stream()
            .filter(x -> header(x, KafkaHeaders.EVENT_ID).equals(bare.id().toString()))
            .findFirst()
            .orElseThrow();
    assertThat(b.key()).isNull();
    assertThat(b.value()).isEmpty();
    assertThat(b.headers().lastHeader(KafkaHeaders.CORRELATION_ID))
        .as("absent ids are not sent")
        .isNull();
    assertThat(b.headers().lastHeader(KafkaHeaders.CAUSATION_ID)).isNull();
  }

  /**
   * KAFKA-15591: on a broker before 4.5, the first request to a partition just created can fail
   * with NOT_LEADER_OR_FOLLOWER while the request pipelined behind it is stored, after which the
   * first one's records meet OUT_OF_ORDER_SEQUENCE_NUMBER until their delivery timeout and land
   * behind later records of their key. It is a race inside the broker: publishing at once after
   * creating the topic met it here when the machine was busy (a 3-partition topic, records of one
   * partition stalled for the 30 s delivery timeout), not on a quiet one. The transport now waits
   * until each partition is served before its first send to a topic.
   */
  @Test
  void publish_rightAfterTheTopicIsCreated_confirmsEveryEventAtOnce_inKeyOrder() throws Exception {
    for (int round = 0; round < 4; round++) {
      String topic = TestKafka.uniqueTopic("fresh");
      if (round % 2 == 0) {
        try (var admin = TestKafka.admin()) {
          admin
              .createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 3, (short) 1)))
              .all()
              .get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
      } // odd rounds: the first publish creates the topic (auto.create.topics.enable)
      List<Event> events =
          java.util.stream.IntStream.range(0, 600)
              .mapToObj(
                  i ->
                      Event.builder("Step")
                          .destination(topic)
                          .key("k" + (i % 12))
                          .payload(i + " " + "x".repeat(1000))
                          .build())
              .toList();

      List<PublishResult> results = transport.publish(events, TIMEOUT);

      assertThat(results)
          .as("round %d, topic %s", round, topic)
          .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
      Map<String, List<Integer>> perKey = new java.util.TreeMap<>();
      for (ConsumerRecord<byte[], byte[]> r : TestKafka.readAll(topic)) {
        perKey
            .computeIfAbsent(new String(r.key(), StandardCharsets.UTF_8), k -> new java.util.ArrayList<>())
            .add(Integer.parseInt(new String(r.value(), StandardCharsets.UTF_8).split(" ")[0]));
      }
      assertThat(perKey).hasSize(12);
      perKey.forEach((key, payloads) -> assertThat(payloads).as(key).hasSize(50).isSorted());
    }
  }

  @Test
  void publish_keepsEventsOfOneKeyInTheirOrderOnOnePartition() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("order"), 3);
    List<Event> events =
        java.util.stream.IntStream.range(0, 50)
            .mapToObj(
                i -> Event.builder("Step").destination(topic).key("k").payload("" + i).build())
            .toList();

    assertThat(transport.publish(events, TIMEOUT))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));

    List<String> payloads =
        TestKafka.readAll(topic).stream()
            .map(r -> new String(r.value(), StandardCharsets.UTF_8))
            .toList();
    assertThat(payloads)
        .containsExactlyElementsOf(
            events.stream().map(e -> new String(e.payload(), StandardCharsets.UTF_8)).toList());
  }

  @Test
  void publish_failsOnlyTheEventWithAnIllegalTopicName_nonRetriably_andStillPublishesTheOthers() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("legal"), 1);
    Event good = Event.builder("T").destination(topic).build();
    Event badChars = Event.builder("T").destination("orders/eu").build();
    Event tooLong = Event.builder("T").destination("t".repeat(250)).build();

    List<PublishResult> results = transport.publish(List.of(badChars, good, tooLong), TIMEOUT);

    assertThat(results.get(1)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(results.get(0))
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error())
                  .isInstanceOf(InvalidEventException.class)
                  .hasMessageContaining("'orders/eu'");
            });
    assertThat(results.get(2))
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error())
                  .hasMessageContaining("250 characters; Kafka allows at most 249");
            });
  }

  @Test
  void publish_failsAnEventOverMaxRecordBytes_nonRetriably_namingItsSizeAndTheLimit() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("limit"), 1);
    try (KafkaTransport small =
        KafkaTransport.builder()
            .bootstrapServers(TestKafka.bootstrap())
            .maxRecordBytes(4096)
            .build()) {
      Event big = Event.builder("T").destination(topic).payload(new byte[5000]).build();
      Event bigHeader = Event.builder("T").destination(topic).header("h", "x".repeat(5000)).build();
      Event fits = Event.builder("T").destination(topic).payload(new byte[1000]).build();

      List<PublishResult> results = small.publish(List.of(big, bigHeader, fits), TIMEOUT);

      assertThat(results.get(0))
          .isInstanceOfSatisfying(
              PublishResult.Failed.class,
              f -> {
                assertThat(f.retriable()).isFalse();
                assertThat(f.error().getMessage())
                    .containsPattern(
                        "the record is \\d+ bytes \\(payload 5000\\), over the limit of 4096 bytes")
                    .contains("maxRecordBytes")
                    .contains(big.id().toString());
              });
      assertThat(results.get(1))
          .isInstanceOfSatisfying(
              PublishResult.Failed.class, f -> assertThat(f.retriable()).isFalse());
      assertThat(results.get(2)).isInstanceOf(PublishResult.Confirmed.class);
    }
    assertThat(TestKafka.readAll(topic)).hasSize(1);
  }

  @Test
  void publish_ofARecordOverTheTopicsLimit_failsNonRetriably_withTheBrokersError() {
    String topic =
        TestKafka.createTopic(
            TestKafka.uniqueTopic("broker-limit"), 1, Map.of("max.message.bytes", "16384"));
    Event big = Event.builder("T").destination(topic).payload(new byte[64 * 1024]).build();
    Event small = Event.builder("T").destination(topic).payload("ok").build();

    List<PublishResult> results = transport.publish(List.of(big, small), TIMEOUT);

    assertThat(results.get(0))
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error()).isInstanceOf(RecordTooLargeException.class);
            });
    assertThat(results.get(1)).isInstanceOf(PublishResult.Confirmed.class);
  }

  @Test
  void publish_refusesAnApplicationHeaderThatImitatesCourierHeaders() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("reserved"), 1);
    Event spoof =
        Event.builder("T")
            .destination(topic)
            .header("courier-event-id", "00000000-0000-0000-0000-000000000001")
            .build();

    assertThat(transport.publish(List.of(spoof), TIMEOUT).getFirst())
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error()).hasMessageContaining("reserved for Courier's own headers");
            });
  }

  @Test
  void publish_toABrokerThatIsNotThere_reportsRetriableFailuresWithinTheTimeout() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    try (KafkaTransport nowhere =
        KafkaTransport.builder()
            .bootstrapServers("127.0.0.1:" + closedPort)
            .property("max.block.ms", 500)
            .closeTimeout(Duration.ZERO)
            .build()) {
      List<Event> events =
          List.of(
              Event.builder("T").destination("somewhere").key("a").build(),
              Event.builder("T").destination("somewhere").key("a").build(),
              Event.builder("T").destination("somewhere").key("b").build());
      long started = System.nanoTime();

      List<PublishResult> results = nowhere.publish(events, Duration.ofSeconds(1));

      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
      assertThat(results)
          .hasSize(3)
          .allSatisfy(
              r ->
                  assertThat(r)
                      .isInstanceOfSatisfying(
                          PublishResult.Failed.class, f -> assertThat(f.retriable()).isTrue()));
      assertThat(((PublishResult.Failed) results.get(1)).error())
          .as("a later event of the same key is held back rather than sent out of order")
          .hasMessageContaining("must not overtake it");
    }
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }
}
