package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.spi.PublishResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The transactional relay transport against a real broker: atomic batches, zombie fencing, aborted
 * attempts that {@code read_committed} consumers never see, and a producer replaced after a commit
 * whose outcome is unknown.
 */
class KafkaTransactionalTransportTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeTransports() throws Exception {
    for (AutoCloseable r : resources.reversed()) {
      r.close();
    }
  }

  private KafkaTransactionalTransport.Builder builder(String transactionalId) {
    return KafkaTransactionalTransport.builder()
        .bootstrapServers(TestKafka.bootstrap())
        .transactionalId(transactionalId);
  }

  private KafkaTransactionalTransport open(KafkaTransactionalTransport.Builder builder) {
    KafkaTransactionalTransport t = builder.build();
    resources.add(t);
    return t;
  }

  private static List<Event> events(String topic, int n) {
    List<Event> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(DeliveryFixture.event(topic, "key-" + (i % 4), "payload " + i).build());
    }
    return out;
  }

  private static List<String> ids(List<Event> events) {
    return events.stream().map(e -> e.id().toString()).toList();
  }

  private static List<String> committedIds(String topic) {
    return TestKafka.eventIds(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topic));
  }

  private static List<String> uncommittedIds(String topic) {
    return TestKafka.eventIds(TransactionalTopics.readUncommitted(TestKafka.bootstrap(), topic));
  }

  private static String uniqueId(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Test
  void publish_commitsTheBatchInOneTransaction_andConfirmsEachEventWithItsPosition() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-batch"), 3);
    KafkaTransactionalTransport transport = open(builder(uniqueId("relay")));
    List<Event> batch = events(topic, 10);

    List<PublishResult> results = transport.publish(batch, TIMEOUT);

    assertThat(results)
        .hasSize(10)
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    assertThat(results)
        .extracting(PublishResult::eventId)
        .containsExactlyElementsOf(batch.stream().map(Event::id).toList());
    assertThat(((PublishResult.Confirmed) results.getFirst()).position())
        .matches(topic + "-\\d@\\d+");
    assertThat(committedIds(topic)).containsExactlyInAnyOrderElementsOf(ids(batch));
    assertThat(transport.producersCreated()).isEqualTo(1);
  }

  @Test
  void
      zombieRelay_isFencedWhenANewerRelayWithTheSameIdInitialises_andThenFailsFastWithTheFencedError() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-zombie"), 1);
    String id = uniqueId("relay-1");
    CompletableFuture<KafkaProducerFencedException> told = new CompletableFuture<>();
    KafkaTransactionalTransport zombie = open(builder(id).onFenced(told::complete));
    KafkaTransactionalTransport live = open(builder(id));
    List<Event> before = events(topic, 2);
    assertThat(zombie.publish(before, TIMEOUT))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));

    live.start();
    List<Event> fromZombie = events(topic, 3);
    List<PublishResult> fenced = zombie.publish(fromZombie, TIMEOUT);

    assertThat(fenced)
        .hasSize(3)
        .allSatisfy(
            r -> {
              assertThat(r).isInstanceOf(PublishResult.Failed.class);
              PublishResult.Failed f = (PublishResult.Failed) r;
              assertThat(f.retriable())
                  .as("the live relay publishes these rows after the lease")
                  .isTrue();
              assertThat(f.error())
                  .isInstanceOf(KafkaProducerFencedException.class)
                  .hasMessageStartingWith("fenced by a newer relay with transactional.id " + id);
            });
    assertThat(zombie.isFenced()).isTrue();
    assertThat(told)
        .succeedsWithin(Duration.ofSeconds(5))
        .extracting(KafkaProducerFencedException::transactionalId)
        .isEqualTo(id);

    long started = System.nanoTime();
    List<PublishResult> later = zombie.publish(events(topic, 1), TIMEOUT);
    assertThat(Duration.ofNanos(System.nanoTime() - started))
        .as("fails fast, without asking Kafka")
        .isLessThan(Duration.ofMillis(500));
    assertThat(later.getFirst())
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> assertThat(f.error()).isInstanceOf(KafkaProducerFencedException.class));
    assertThat(zombie.producersCreated())
        .as("a fenced transport never initialises again")
        .isEqualTo(1);

    List<Event> fromLive = events(topic, 2);
    assertThat(live.publish(fromLive, TIMEOUT))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    List<String> expected = new ArrayList<>(ids(before));
    expected.addAll(ids(fromLive));
    assertThat(committedIds(topic)).containsExactlyInAnyOrderElementsOf(expected);
  }

  @Test
  void zombieFencedBetweenItsSendsAndItsCommit_leavesNothingVisibleToReadCommittedConsumers() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-zombie-mid"), 1);
    String id = uniqueId("relay-2");
    KafkaTransactionalTransport live = open(builder(id));
    AtomicBoolean first = new AtomicBoolean(true);
    // The zombie's records are sent and acknowledged; then, before it commits, the live relay
    // initialises with the same id, as a replacement started during the zombie's pause would.
    KafkaTransactionalTransport zombie =
        open(
            builder(id)
                .producerFactory(
                    config ->
                        new ForwardingProducer(
                            TransactionalProducers.KAFKA.apply(config),
                            real -> {
                              if (first.getAndSet(false)) {
                                live.start();
                              }
                              real.commitTransaction();
                            })));
    List<Event> batch = events(topic, 5);

    List<PublishResult> results = zombie.publish(batch, TIMEOUT);

    assertThat(results)
        .allSatisfy(
            r ->
                assertThat(r)
                    .isInstanceOfSatisfying(
                        PublishResult.Failed.class,
                        f ->
                            assertThat(f.error())
                                .isInstanceOf(KafkaProducerFencedException.class)));
    assertThat(uncommittedIds(topic))
        .as("the zombie's records reached the log")
        .containsAll(ids(batch));
    assertThat(committedIds(topic)).as("but its transaction was aborted by the fencing").isEmpty();
    List<Event> fromLive = events(topic, 2);
    assertThat(live.publish(fromLive, TIMEOUT))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    assertThat(committedIds(topic)).containsExactlyInAnyOrderElementsOf(ids(fromLive));
  }

  @Test
  void eventTheBrokerRefuses_abortsItsWholeBatch_isReportedNonRetriable_andTheOthersRetriable() {
    String topic =
        TestKafka.createTopic(
            TestKafka.uniqueTopic("tx-too-large"), 1, Map.of("max.message.bytes", "16384"));
    KafkaTransactionalTransport transport = open(builder(uniqueId("relay-3")));
    Event small1 = DeliveryFixture.event(topic, "a", "small").build();
    Event big =
        Event.builder("ReportGenerated")
            .destination(topic)
            .key("b")
            .payload(new byte[64 * 1024])
            .build();
    Event small2 = DeliveryFixture.event(topic, "c", "small").build();

    List<PublishResult> results = transport.publish(List.of(small1, big, small2), TIMEOUT);

    assertThat(results.get(1))
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error()).isInstanceOf(RecordTooLargeException.class);
            });
    assertThat(List.of(results.get(0), results.get(2)))
        .allSatisfy(
            r ->
                assertThat(r)
                    .isInstanceOfSatisfying(
                        PublishResult.Failed.class, f -> assertThat(f.retriable()).isTrue()));
    assertThat(committedIds(topic)).isEmpty();

    assertThat(transport.publish(List.of(small1, small2), TIMEOUT))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    assertThat(committedIds(topic)).containsExactly(small1.id().toString(), small2.id().toString());
  }

  @Test
  void commitWhoseOutcomeIsUnknown_replacesTheProducer_andTheRetryMayDuplicateWhatDidCommit() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-unknown"), 1);
    AtomicBoolean first = new AtomicBoolean(true);
    // The commit reaches the broker, but its answer does not reach us: the indeterminate case.
    KafkaTransactionalTransport transport =
        open(
            builder(uniqueId("relay-4"))
                .producerFactory(
                    config ->
                        new ForwardingProducer(
                            TransactionalProducers.KAFKA.apply(config),
                            real -> {
                              real.commitTransaction();
                              if (first.getAndSet(false)) {
                                throw new TimeoutException(
                                    "simulated: the commit's response was lost");
                              }
                            })));
    List<Event> batch = events(topic, 3);

    List<PublishResult> unknown = transport.publish(batch, TIMEOUT);

    assertThat(unknown)
        .allSatisfy(
            r ->
                assertThat(r)
                    .isInstanceOfSatisfying(
                        PublishResult.Failed.class,
                        f -> {
                          assertThat(f.retriable()).isTrue();
                          assertThat(f.error()).hasMessageContaining("outcome is unknown");
                        }));
    assertThat(transport.producersCreated()).isEqualTo(1);

    List<PublishResult> retried = transport.publish(batch, TIMEOUT);

    assertThat(retried).allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    assertThat(transport.producersCreated())
        .as("a new producer, never the one with the unknown outcome")
        .isEqualTo(2);
    List<ConsumerRecord<byte[], byte[]>> committed =
        TransactionalTopics.readCommitted(TestKafka.bootstrap(), topic);
    assertThat(TestKafka.eventIds(committed))
        .as(
            "the first transaction had committed: the retry published the batch again, which the"
                + " consumers' ledger absorbs")
        .hasSize(6)
        .containsOnlyElementsOf(ids(batch));
  }

  @Test
  void concurrentPublishes_takeTurnsOnTheTransaction_andAllCommit() throws Exception {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("tx-concurrent"), 3);
    KafkaTransactionalTransport transport = open(builder(uniqueId("relay-5")));
    List<CompletableFuture<List<PublishResult>>> running = new ArrayList<>();
    List<Event> all = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      List<Event> batch = events(topic, 25);
      all.addAll(batch);
      running.add(CompletableFuture.supplyAsync(() -> transport.publish(batch, TIMEOUT)));
    }
    for (CompletableFuture<List<PublishResult>> f : running) {
      assertThat(f.get(60, TimeUnit.SECONDS))
          .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    }
    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () -> assertThat(committedIds(topic)).containsExactlyInAnyOrderElementsOf(ids(all)));
  }
}
