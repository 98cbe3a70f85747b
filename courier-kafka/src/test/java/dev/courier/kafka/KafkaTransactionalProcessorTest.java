package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.testkit.RecordingThreadFactory;
import dev.courier.testkit.TestClock;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Consume-transform-produce on a real broker, in this JVM: outputs and input offsets commit in one
 * transaction, retries reproduce the same output ids, and what cannot be processed is dead-lettered
 * inside the transaction.
 */
class KafkaTransactionalProcessorTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final RetryPolicy FAST_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(3)
          .initialDelay(Duration.ofMillis(20))
          .maxDelay(Duration.ofMillis(50))
          .jitter(false)
          .build();
  private static KafkaTransport inputs;
  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void openInputTransport() {
    inputs = KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build();
  }

  @AfterAll
  static void closeInputTransport() {
    inputs.close();
  }

  @AfterEach
  void closeProcessors() throws Exception {
    for (AutoCloseable r : resources.reversed()) {
      r.close();
    }
  }

  /** Topics of one test: input, output and dead letters. */
  private record Topics(String input, String output, String deadLetters) {
    static Topics create(String prefix, int inputPartitions) {
      return new Topics(
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-in"), inputPartitions),
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-out"), 3),
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-dlt"), 1));
    }
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  private static List<Event> publishInputs(String topic, int n) {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(
          Event.builder("OrderPlaced")
              .destination(topic)
              .key("order-" + (i % 7))
              .payload("input " + i)
              .correlationId("corr-" + i)
              .build());
    }
    assertThat(inputs.publish(events, Duration.ofSeconds(30)))
        .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    return events;
  }

  /** Two outputs per input: an enriched copy and an audit record. */
  private static KafkaTransactionalProcessor.Transform twoOutputs(String outputTopic) {
    return input ->
        List.of(
            Event.builder("OrderEnriched")
                .destination(outputTopic)
                .key(input.key())
                .payload(new String(input.payload(), StandardCharsets.UTF_8) + " enriched"),
            Event.builder("OrderAudited").destination(outputTopic).key(input.key()));
  }

  private KafkaTransactionalProcessor.Builder processor(
      String group, Topics topics, KafkaTransactionalProcessor.Transform transform) {
    return KafkaTransactionalProcessor.builder()
        .bootstrapServers(TestKafka.bootstrap())
        .groupId(group)
        .transactionalId(group + "-0")
        .topics(topics.input())
        .deadLetterTopic(topics.deadLetters())
        .transform(transform)
        .retryPolicy(FAST_RETRIES)
        .pollTimeout(Duration.ofMillis(100))
        .consumerProperty("fetch.max.wait.ms", 50)
        .closeTimeout(Duration.ofSeconds(10));
  }

  private KafkaTransactionalProcessor start(KafkaTransactionalProcessor.Builder builder) {
    KafkaTransactionalProcessor p = builder.build();
    resources.add(p);
    p.start();
    return p;
  }

  private static void awaitConsumed(String group, String topic, long inputs) {
    await()
        .atMost(WAIT)
        .until(
            () ->
                TransactionalTopics.committedTotal(TestKafka.bootstrap(), group, topic) == inputs);
  }

  private static Set<String> expectedOutputIds(String group, List<Event> inputs, int perInput) {
    Set<String> ids = new HashSet<>();
    for (Event e : inputs) {
      for (int i = 0; i < perInput; i++) {
        ids.add(KafkaTransactionalProcessor.outputId(group, e.id(), i).toString());
      }
    }
    return ids;
  }

  @Test
  void
      processor_publishesEachInputsOutputsWithDerivedIds_andCommitsTheInputOffsetsInTheSameTransactions() {
    Topics topics = Topics.create("ctp", 3);
    String group = "enricher-" + shortId();
    List<Event> in = publishInputs(topics.input(), 60);
    MeterRegistry registry = new SimpleMeterRegistry();
    KafkaTransactionalProcessor p =
        start(processor(group, topics, twoOutputs(topics.output())).meterRegistry(registry));

    awaitConsumed(group, topics.input(), 60);

    List<ConsumerRecord<byte[], byte[]>> out =
        TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output());
    assertThat(TestKafka.eventIds(out))
        .hasSize(120)
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, in, 2));
    Event first = in.getFirst();
    ConsumerRecord<byte[], byte[]> enriched =
        out.stream()
            .filter(
                r ->
                    TestKafka.eventIds(List.of(r))
                        .getFirst()
                        .equals(
                            KafkaTransactionalProcessor.outputId(group, first.id(), 0).toString()))
            .findFirst()
            .orElseThrow();
    assertThat(new String(enriched.value(), StandardCharsets.UTF_8)).isEqualTo("input 0 enriched");
    assertThat(new String(enriched.key(), StandardCharsets.UTF_8)).isEqualTo(first.key());
    assertThat(TransactionalTopics.header(enriched, KafkaHeaders.CAUSATION_ID))
        .isEqualTo(first.id().toString());
    assertThat(TransactionalTopics.header(enriched, KafkaHeaders.CORRELATION_ID))
        .isEqualTo("corr-0");
    assertThat(p.inputsCommitted()).isEqualTo(60);
    assertThat(p.outputsCommitted()).isEqualTo(120);
    assertThat(p.transactionsAborted()).isZero();
    assertThat(registry.get(KafkaTransactionalProcessor.METRIC_OUTPUTS).counter().count())
        .isEqualTo(120);
    assertThat(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.deadLetters()))
        .isEmpty();
  }

  @Test
  void processorGivenAClockAndThreads_datesItsOutputsByThatClock_andTransformsOnTheFactorysThread() {
    Topics topics = Topics.create("ctp-injected", 1);
    String group = "injected-" + shortId();
    publishInputs(topics.input(), 3);
    TestClock clock = TestClock.at(Instant.parse("2031-03-01T12:00:00Z"));
    RecordingThreadFactory threads = RecordingThreadFactory.virtual();
    List<Thread> transformedOn = new CopyOnWriteArrayList<>();
    KafkaTransactionalProcessor.Transform outputs = twoOutputs(topics.output());

    start(
        processor(
                group,
                topics,
                input -> {
                  transformedOn.add(Thread.currentThread());
                  return outputs.apply(input);
                })
            .clock(clock)
            .threadFactory(threads));
    awaitConsumed(group, topics.input(), 3);

    assertThat(threads.names()).containsExactly("courier-kafka-processor-" + group);
    assertThat(transformedOn)
        .isNotEmpty()
        .allSatisfy(t -> assertThat(t).isSameAs(threads.threads().getFirst()));
    assertThat(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output()))
        .hasSize(6)
        .allSatisfy(
            r ->
                assertThat(Instant.parse(TransactionalTopics.header(r, KafkaHeaders.CREATED_AT)))
                    .isEqualTo(clock.instant()));
  }

  @Test
  void failingTransform_abortsTheTransactionAndRewinds_soReadCommittedReadersSeeEachOutputOnce() {
    Topics topics = Topics.create("ctp-retry", 1);
    String group = "retrying-" + shortId();
    List<Event> in = publishInputs(topics.input(), 40);
    UUID failsOnce = in.get(20).id();
    AtomicBoolean failed = new AtomicBoolean();
    KafkaTransactionalProcessor.Transform outputs = twoOutputs(topics.output());
    KafkaTransactionalProcessor p =
        start(
            processor(
                group,
                topics,
                input -> {
                  if (input.id().equals(failsOnce) && !failed.getAndSet(true)) {
                    Thread.sleep(200); // let the outputs sent so far reach the log before the abort
                    throw new IllegalStateException("downstream lookup failed (simulated)");
                  }
                  return outputs.apply(input);
                }));

    awaitConsumed(group, topics.input(), 40);

    List<String> committed =
        TestKafka.eventIds(
            TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output()));
    List<String> uncommitted =
        TestKafka.eventIds(
            TransactionalTopics.readUncommitted(TestKafka.bootstrap(), topics.output()));
    assertThat(committed)
        .hasSize(80)
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, in, 2));
    assertThat(uncommitted.size())
        .as("the aborted attempt's outputs are in the log, hidden from read_committed readers")
        .isGreaterThan(committed.size());
    assertThat(new HashSet<>(uncommitted))
        .as("and the retry reproduced the very same ids")
        .isEqualTo(new HashSet<>(committed));
    assertThat(p.transactionsAborted()).isEqualTo(1);
  }

  @Test
  void poisonMalformedAndExhaustedInputs_goToTheDeadLetterTopicWithTheirReason_andTheStreamGoesOn()
      throws Exception {
    Topics topics = Topics.create("ctp-dlt", 1);
    String group = "dlt-" + shortId();
    List<Event> good1 = publishInputs(topics.input(), 2);
    Event poison =
        Event.builder("Poison").destination(topics.input()).key("p").payload("never works").build();
    Event flaky =
        Event.builder("AlwaysFails")
            .destination(topics.input())
            .key("f")
            .payload("fails every time")
            .build();
    inputs.publish(List.of(poison, flaky), Duration.ofSeconds(30));
    try (KafkaProducer<byte[], byte[]> raw = TestKafka.rawProducer()) {
      raw.send(
              new ProducerRecord<>(
                  topics.input(),
                  "m".getBytes(StandardCharsets.UTF_8),
                  "no event id".getBytes(StandardCharsets.UTF_8)))
          .get();
    }
    List<Event> good2 = publishInputs(topics.input(), 2);
    KafkaTransactionalProcessor.Transform outputs = twoOutputs(topics.output());
    KafkaTransactionalProcessor p =
        start(
            processor(
                group,
                topics,
                input ->
                    switch (input.type()) {
                      case "Poison" -> throw new PoisonEventException("cannot be enriched");
                      case "AlwaysFails" -> throw new IllegalStateException("still failing");
                      default -> outputs.apply(input);
                    }));

    awaitConsumed(group, topics.input(), 7);

    List<ConsumerRecord<byte[], byte[]>> dead =
        TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.deadLetters());
    assertThat(dead).hasSize(3);
    assertThat(dead)
        .extracting(
            r -> TransactionalTopics.header(r, KafkaTransactionalProcessor.DEAD_LETTER_REASON))
        .containsExactly(
            DeadLetterReason.POISON.name(),
            DeadLetterReason.HANDLER_FAILED.name(),
            DeadLetterReason.MALFORMED.name());
    assertThat(dead)
        .extracting(
            r -> TransactionalTopics.header(r, KafkaTransactionalProcessor.DEAD_LETTER_ATTEMPTS))
        .containsExactly("1", "3", "1");
    assertThat(TransactionalTopics.header(dead.get(0), KafkaHeaders.EVENT_ID))
        .isEqualTo(poison.id().toString());
    assertThat(
            TransactionalTopics.header(dead.get(0), KafkaTransactionalProcessor.DEAD_LETTER_ERROR))
        .contains("cannot be enriched");
    assertThat(
            TransactionalTopics.header(dead.get(2), KafkaTransactionalProcessor.DEAD_LETTER_SOURCE))
        .matches(topics.input() + "-0@4");
    assertThat(new String(dead.get(0).value(), StandardCharsets.UTF_8)).isEqualTo("never works");
    List<Event> good = new ArrayList<>(good1);
    good.addAll(good2);
    assertThat(
            TestKafka.eventIds(
                TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output())))
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, good, 2));
    assertThat(p.deadLettersCommitted()).isEqualTo(3);
    assertThat(p.state()).isEqualTo(KafkaTransactionalProcessor.State.RUNNING);
  }

  @Test
  void outputTheBrokerRefuses_deadLettersOnlyItsInput_andTheOtherInputsOfItsTransactionGoThrough() {
    Topics topics =
        new Topics(
            TestKafka.createTopic(TestKafka.uniqueTopic("ctp-big-in"), 1),
            TestKafka.createTopic(
                TestKafka.uniqueTopic("ctp-big-out"), 1, Map.of("max.message.bytes", "16384")),
            TestKafka.createTopic(TestKafka.uniqueTopic("ctp-big-dlt"), 1));
    String group = "big-output-" + shortId();
    List<Event> in = new ArrayList<>(publishInputs(topics.input(), 5));
    Event big = Event.builder("Report").destination(topics.input()).key("r").payload("big").build();
    inputs.publish(List.of(big), Duration.ofSeconds(30));
    in.addAll(publishInputs(topics.input(), 5));
    KafkaTransactionalProcessor.Transform outputs = twoOutputs(topics.output());
    KafkaTransactionalProcessor p =
        start(
            processor(
                group,
                topics,
                input ->
                    input.type().equals("Report")
                        ? List.of(
                            Event.builder("ReportRendered")
                                .destination(topics.output())
                                .payload(new byte[64 * 1024]))
                        : outputs.apply(input)));

    awaitConsumed(group, topics.input(), 11);

    List<ConsumerRecord<byte[], byte[]>> dead =
        TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.deadLetters());
    assertThat(dead).hasSize(1);
    assertThat(TransactionalTopics.header(dead.getFirst(), KafkaHeaders.EVENT_ID))
        .isEqualTo(big.id().toString());
    assertThat(
            TransactionalTopics.header(
                dead.getFirst(), KafkaTransactionalProcessor.DEAD_LETTER_ERROR))
        .contains("RecordTooLargeException");
    assertThat(
            TestKafka.eventIds(
                TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output())))
        .as("the inputs that shared its transaction were not blamed for its output")
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, in, 2));
    assertThat(p.deadLettersCommitted()).isEqualTo(1);
  }

  @Test
  void
      secondInstanceWithTheSameTransactionalId_fencesTheFirst_whichStops_andTheGroupStillCommitsEachOutputOnce() {
    Topics topics = Topics.create("ctp-fence", 2);
    String group = "fenced-" + shortId();
    List<Event> in = new ArrayList<>(publishInputs(topics.input(), 20));
    KafkaTransactionalProcessor first =
        start(processor(group, topics, twoOutputs(topics.output())));
    awaitConsumed(group, topics.input(), 20);

    start(processor(group, topics, twoOutputs(topics.output())));
    // The second initialises transactions before it joins the group: once it is a member, the
    // first one's producer is fenced.
    await()
        .atMost(WAIT)
        .until(() -> TransactionalTopics.groupMembers(TestKafka.bootstrap(), group) == 2);
    in.addAll(publishInputs(topics.input(), 40));

    await().atMost(WAIT).until(() -> first.state() == KafkaTransactionalProcessor.State.FAILED);
    assertThat(first.failure())
        .get()
        .isInstanceOf(KafkaProducerFencedException.class)
        .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.THROWABLE)
        .hasMessageStartingWith(
            "fenced by a newer processor with transactional.id " + group + "-0");
    awaitConsumed(group, topics.input(), 60);
    assertThat(
            TestKafka.eventIds(
                TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output())))
        .hasSize(120)
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, in, 2));
  }

  @Test
  void outputId_isANameBasedUuid_stableForTheSameProcessorInputAndIndex_andDifferentOtherwise() {
    UUID input = UUID.fromString("0190c7a8-8f5e-7b3c-9a41-2f6d1e0b7c55");

    UUID id = KafkaTransactionalProcessor.outputId("enricher", input, 0);

    assertThat(id.version()).isEqualTo(5);
    assertThat(id.variant()).isEqualTo(2);
    assertThat(KafkaTransactionalProcessor.outputId("enricher", input, 0)).isEqualTo(id);
    assertThat(
            Set.of(
                id,
                KafkaTransactionalProcessor.outputId("enricher", input, 1),
                KafkaTransactionalProcessor.outputId("auditor", input, 0),
                KafkaTransactionalProcessor.outputId(
                    "enricher", UUID.fromString("0190c7a8-8f5e-7b3c-9a41-2f6d1e0b7c56"), 0)))
        .hasSize(4);
  }

  @Test
  void close_commitsWhatWasProcessed_andANewInstanceContinuesWithoutRepeatingIt() {
    Topics topics = Topics.create("ctp-close", 1);
    String group = "closing-" + shortId();
    List<Event> in = publishInputs(topics.input(), 30);
    KafkaTransactionalProcessor first =
        start(processor(group, topics, twoOutputs(topics.output())));
    awaitConsumed(group, topics.input(), 30);
    first.close();
    assertThat(first.state()).isEqualTo(KafkaTransactionalProcessor.State.STOPPED);

    List<Event> more = publishInputs(topics.input(), 10);
    start(processor(group, topics, twoOutputs(topics.output())));
    awaitConsumed(group, topics.input(), 40);

    List<Event> all = new ArrayList<>(in);
    all.addAll(more);
    assertThat(
            TestKafka.eventIds(
                TransactionalTopics.readUncommitted(TestKafka.bootstrap(), topics.output())))
        .as("nothing was transformed twice, not even in an aborted transaction")
        .hasSize(80)
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, all, 2));
  }
}
