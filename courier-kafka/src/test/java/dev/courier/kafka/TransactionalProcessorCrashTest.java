package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.embedded.ChildProcess;
import dev.courier.spi.PublishResult;
import dev.courier.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transactional processor killed with SIGKILL, in a child JVM, and restarted: what a {@code
 * read_committed} reader of its output sees, and what happens to a database write made inside the
 * transform, which the Kafka transaction does not cover.
 */
class TransactionalProcessorCrashTest {
  private static final Logger log = LoggerFactory.getLogger(TransactionalProcessorCrashTest.class);
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static DeliveryFixture db;
  private static KafkaTransport inputs;
  private final List<ChildProcess> children = new ArrayList<>();

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("tx_processor_crash");
    db.execute("CREATE TABLE child_markers (name VARCHAR(64) NOT NULL)");
    inputs = KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build();
  }

  @AfterEach
  void killChildren() {
    children.forEach(ChildProcess::close);
  }

  @AfterAll
  static void tearDown() {
    inputs.close();
    db.close();
  }

  private record Topics(String input, String output, String deadLetters) {
    static Topics create(String prefix, int inputPartitions) {
      return new Topics(
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-in"), inputPartitions),
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-out"), 3),
          TestKafka.createTopic(TestKafka.uniqueTopic(prefix + "-dlt"), 1));
    }
  }

  private static List<Event> publishInputs(String topic, int n) {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(
          Event.builder("OrderPlaced")
              .destination(topic)
              .key("order-" + (i % 11))
              .payload("input " + i)
              .build());
    }
    for (int from = 0; from < n; from += 500) {
      assertThat(
              inputs.publish(events.subList(from, Math.min(n, from + 500)), Duration.ofSeconds(30)))
          .allSatisfy(r -> assertThat(r).isInstanceOf(PublishResult.Confirmed.class));
    }
    return events;
  }

  private ChildProcess startChild(String name, Topics topics, String group, String... extra) {
    return startChildWithEnv(name, topics, group, Map.of(), List.of(extra));
  }

  private static long committed(String group, Topics topics) {
    return TransactionalTopics.committedTotal(TestKafka.bootstrap(), group, topics.input());
  }

  private static void awaitCommitted(ChildProcess child, String group, Topics topics, long atLeast) {
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(50))
        .failFast("the child JVM died: " + child, () -> !child.isAlive())
        .until(() -> committed(group, topics) >= atLeast);
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static Set<String> expectedOutputIds(String group, List<Event> inputs) {
    Set<String> ids = new HashSet<>();
    for (Event e : inputs) {
      ids.add(KafkaTransactionalProcessor.outputId(group, e.id(), 0).toString());
      ids.add(KafkaTransactionalProcessor.outputId(group, e.id(), 1).toString());
    }
    return ids;
  }

  @Test
  void
      processorKilledWithSigkillMidStream_andRestarted_leavesNoDuplicateInItsOutputForReadCommittedReaders() {
    Topics topics = Topics.create("crash", 3);
    String group = "crash-" + UUID.randomUUID().toString().substring(0, 8);
    List<Event> in = publishInputs(topics.input(), 600);

    ChildProcess first = startChild("processor-killed", topics, group, "delayMs=4");
    awaitCommitted(first, group, topics, 150);
    // A transaction takes about half a second here (100 inputs, 4 ms each): land inside the next.
    pause(Duration.ofMillis(150));
    first.kill();
    long committedAtKill = committed(group, topics);
    assertThat(committedAtKill).as("killed mid-stream").isBetween(150L, 599L);

    ChildProcess second = startChild("processor-restarted", topics, group);
    awaitCommitted(second, group, topics, 600);
    second.kill();

    List<String> committed =
        TestKafka.eventIds(
            TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output()));
    List<String> uncommitted =
        TestKafka.eventIds(
            TransactionalTopics.readUncommitted(TestKafka.bootstrap(), topics.output()));
    log.info(
        "killed after {} of 600 inputs were committed; the output log holds {} records, {} of them"
            + " from aborted transactions",
        committedAtKill,
        uncommitted.size(),
        uncommitted.size() - committed.size());
    assertThat(committed).as("every output, each exactly once").hasSize(1200);
    assertThat(new HashSet<>(committed)).hasSize(1200).isEqualTo(expectedOutputIds(group, in));
    assertThat(uncommitted.size()).isGreaterThanOrEqualTo(committed.size());
    assertThat(TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.deadLetters()))
        .isEmpty();
  }

  @Test
  void
      databaseWriteInTheTransform_isRepeatedAfterAKillBetweenItsCommitAndTheKafkaCommit_unlessTheLedgerGuardsIt_whileKafkaOutputsStayExactlyOnce() {
    Topics topics = Topics.create("crash-db", 1);
    String group = "crash-db-" + UUID.randomUUID().toString().substring(0, 8);
    List<Event> in = publishInputs(topics.input(), 200);
    TestDatabase database = TestDatabase.shared();
    String schema = (String) db.row("SELECT current_schema()").values().iterator().next();
    String jdbcUrl =
        database.jdbcUrl()
            + (database.jdbcUrl().contains("?") ? "&" : "?")
            + "currentSchema="
            + schema;
    String[] dbArgs = {"jdbcUrl=" + jdbcUrl, "dbUser=" + database.user()};
    Map<String, String> env =
        database.password() == null
            ? Map.of()
            : Map.of(TransactionalProcessorChild.PASSWORD_ENV, database.password());

    List<String> firstArgs = new ArrayList<>(List.of(dbArgs));
    firstArgs.add("stallAt=130");
    ChildProcess first = startChildWithEnv("processor-stalled", topics, group, env, firstArgs);
    await()
        .atMost(WAIT)
        .failFast("the child JVM died: " + first, () -> !first.isAlive())
        .until(() -> db.queryLong("SELECT count(*) FROM child_markers") == 1);
    first.kill();
    long committedAtKill = committed(group, topics);
    assertThat(db.effectRows(TransactionalProcessorChild.UNGUARDED)).isEqualTo(130);
    assertThat(committedAtKill)
        .as("the stalled input's transaction never committed")
        .isLessThan(130);

    ChildProcess second =
        startChildWithEnv("processor-after-kill", topics, group, env, List.of(dbArgs));
    awaitCommitted(second, group, topics, 200);
    second.kill();

    long repeated = 130 - committedAtKill;
    assertThat(
            TestKafka.eventIds(
                TransactionalTopics.readCommitted(TestKafka.bootstrap(), topics.output())))
        .as("Kafka outputs: exactly once")
        .hasSize(400)
        .containsExactlyInAnyOrderElementsOf(expectedOutputIds(group, in));
    assertThat(TransactionalTopics.readUncommitted(TestKafka.bootstrap(), topics.output()).size())
        .as("the killed transaction's outputs are in the log, aborted")
        .isGreaterThan(400);
    assertThat(db.distinctEffects(TransactionalProcessorChild.UNGUARDED)).isEqualTo(200);
    assertThat(db.effectRows(TransactionalProcessorChild.UNGUARDED))
        .as(
            "the database write without the ledger happened again for every input of the killed"
                + " transaction")
        .isEqualTo(200 + repeated);
    assertThat(db.effectRows(TransactionalProcessorChild.GUARDED))
        .as("the write guarded by the processed-events ledger happened once per input")
        .isEqualTo(200);
    assertThat(db.distinctEffects(TransactionalProcessorChild.GUARDED)).isEqualTo(200);
  }

  private ChildProcess startChildWithEnv(
      String name, Topics topics, String group, Map<String, String> env, List<String> extra) {
    List<String> args = new ArrayList<>();
    args.add("bootstrap=" + TestKafka.bootstrap());
    args.add("group=" + group);
    // The same id on every restart: the new instance fences the killed one at once.
    args.add("transactionalId=" + group + "-0");
    args.add("input=" + topics.input());
    args.add("output=" + topics.output());
    args.add("deadLetters=" + topics.deadLetters());
    args.addAll(extra);
    ChildProcess child =
        ChildProcess.start(
            name,
            TransactionalProcessorChild.class,
            args,
            List.of("-Xmx256m"),
            env,
            Path.of("target", "child-jvms"));
    children.add(child);
    return child;
  }
}
