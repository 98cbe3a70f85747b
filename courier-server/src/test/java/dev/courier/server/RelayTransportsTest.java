package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.nats.JetStreamTransport;
import dev.courier.nats.NatsHeaders;
import dev.courier.outbox.Outbox;
import dev.courier.rabbitmq.RabbitMqHeaders;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.relay.PgWakeups;
import dev.courier.testkit.Servers;
import dev.courier.testkit.TestDatabase;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine;

/**
 * {@code courier relay --transport rabbitmq|nats} against the real brokers: the relay publishes
 * committed rows, a reader on the broker finds them, unsafe settings and too short JetStream dedupe
 * windows are refused before anything is published, and a writer in another process wakes it.
 */
class RelayTransportsTest {
  private static final String RABBITMQ_URI = "amqp://guest@127.0.0.1:5672";
  private static final String NATS_URL = "nats://127.0.0.1:4222";
  private static final String CANARY = "canary-51d0e2";

  private TestDatabase db;
  private PGSimpleDataSource schema;
  private final Map<String, String> env = new HashMap<>();

  @BeforeEach
  void setUp() {
    db = TestDatabase.shared();
    schema = db.freshSchema("cli_relay_tx");
    Schema.migrate(schema, CourierTables.DEFAULT);
    env.put("COURIER_DB_URL", db.jdbcUrl());
    env.put("COURIER_DB_SCHEMA", schema.getCurrentSchema());
    if (db.user() != null) {
      env.put("COURIER_DB_USER", db.user());
    }
    env.put("COURIER_HTTP_ENABLED", "false");
  }

  @AfterEach
  void tearDown() {
    db.dropSchema(schema);
  }

  @Test
  void relay_onRabbitMq_publishesCommittedEvents_toTheQueuesBoundToTheExchange() throws Exception {
    requireRabbitMq();
    String exchange = "cli-relay-" + UUID.randomUUID();
    String queue;
    try (RabbitMqTransport topology = RabbitMqTransport.builder().uri(RABBITMQ_URI).build()) {
      queue = topology.declareTopology(exchange, "reader");
    }
    try {
      Event event = append(exchange, "order-1");
      env.put("COURIER_RABBITMQ_URI", RABBITMQ_URI);
      env.put("COURIER_RABBITMQ_PASSWORD", "guest"); // the secret from the environment

      RunningRelay relay = RunningRelay.start(env, "relay", "--transport", "rabbitmq");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> assertThat(status(event.id())).as(relay.err()).isEqualTo("PUBLISHED"));
      assertThat(relay.stop()).as(relay.err()).isZero();

      assertThat(relay.err())
          .contains("to RabbitMQ at amqp://guest@127.0.0.1:5672")
          .doesNotContain("guest:");
      try (com.rabbitmq.client.Connection c = rabbit().newConnection();
          Channel ch = c.createChannel()) {
        GetResponse got = ch.basicGet(queue, true);
        assertThat(got).isNotNull();
        assertThat(got.getProps().getHeaders().get(RabbitMqHeaders.EVENT_ID).toString())
            .isEqualTo(event.id().toString());
        assertThat(got.getProps().getDeliveryMode()).as("persistent").isEqualTo(2);
        assertThat(ch.basicGet(queue, true)).as("published once").isNull();
      }
    } finally {
      try (com.rabbitmq.client.Connection c = rabbit().newConnection();
          Channel ch = c.createChannel()) {
        ch.queueDelete(RabbitMqTransport.queueName(exchange, "reader"));
        ch.queueDelete(
            RabbitMqTransport.deadLetterQueueName(RabbitMqTransport.queueName(exchange, "reader")));
        ch.exchangeDelete(exchange);
        ch.exchangeDelete(RabbitMqTransport.deadLetterExchangeName(exchange));
      }
    }
  }

  @Test
  void relay_onRabbitMq_refusesPublisherConfirmsOff_beforeConnecting() {
    env.put("COURIER_RELAY_TRANSPORT", "rabbitmq");
    env.put("COURIER_RABBITMQ_URI", "amqp://guest@127.0.0.1:9");
    env.put("COURIER_RABBITMQ_PUBLISHER_CONFIRMS", "false");

    CliRun run = CliRun.of(env, "relay");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err())
        .contains("courier.rabbitmq.publisher-confirms: publisherConfirms=false")
        .contains("an event the broker loses or refuses is lost silently")
        .contains("there is no setting to accept it")
        .doesNotContain("allowUnsafe");
  }

  @Test
  void relay_refusesARabbitMqPasswordOnTheCommandLine_andNeverEchoesIt() {
    CliRun run =
        CliRun.of(
            env,
            "relay",
            "--transport",
            "rabbitmq",
            "--rabbitmq-uri",
            "amqp://guest:s3cret-canary@127.0.0.1:5672");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err())
        .contains("--rabbitmq-uri: holds a password")
        .contains("COURIER_RABBITMQ_PASSWORD")
        .doesNotContain("s3cret-canary");
  }

  @Test
  void relay_onKafka_refusesAnUnsafeClientPropertyFromTheEnvironment() {
    env.put("COURIER_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9");
    env.put("COURIER_KAFKA_PROPERTY_ACKS", "1");

    CliRun run = CliRun.of(env, "relay");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("acks");
  }

  @Test
  void config_showsTheTransportSettings_butNoSecretFromTheEnvironment() {
    env.put("COURIER_DB_PASSWORD", "db-" + CANARY);
    env.put("COURIER_RABBITMQ_URI", "amqp://app@rabbit:5672");
    env.put("COURIER_RABBITMQ_PASSWORD", "rabbit-" + CANARY);
    env.put("COURIER_NATS_TOKEN", "nats-" + CANARY);
    env.put(
        "COURIER_KAFKA_PROPERTY_SASL_JAAS_CONFIG",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\""
            + " password=\"kafka-"
            + CANARY
            + "\";");

    CliRun run = CliRun.of(env, "config");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out())
        .contains("courier.rabbitmq.uri")
        .contains("amqp://app@rabbit:5672")
        .contains("courier.rabbitmq.password")
        .contains("courier.nats.token")
        .contains("courier.kafka.property.sasl.jaas.config")
        .contains("courier.relay.transport");
    assertThat(run.out() + run.err()).doesNotContain(CANARY);
  }

  @Test
  void relay_onNats_publishesCommittedEvents_intoAStreamWhoseWindowCoversItsRetryHorizon()
      throws Exception {
    requireNats();
    String subject = "cli-relay." + UUID.randomUUID().toString().replace("-", "");
    String stream = JetStreamTransport.defaultStreamName(subject);
    try {
      Event event = append(subject, "order-1");
      env.put("COURIER_NATS_URL", NATS_URL);

      RunningRelay relay = RunningRelay.start(env, "relay", "--transport", "nats");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> assertThat(status(event.id())).as(relay.err()).isEqualTo("PUBLISHED"));
      assertThat(relay.stop()).as(relay.err()).isZero();

      assertThat(relay.err()).contains("to NATS JetStream at " + NATS_URL);
      try (io.nats.client.Connection c = Nats.connect(NATS_URL)) {
        JetStreamManagement jsm = c.jetStreamManagement();
        StreamInfo info = jsm.getStreamInfo(stream);
        assertThat(info.getStreamState().getMsgCount()).isEqualTo(1);
        // default settings: 10 attempts, 1s..5m backoff, 30s publish timeout, 1s longest poll:
        // 8m31s of backoff + 9 x 31s = 13m10s, plus a minute
        assertThat(info.getConfiguration().getDuplicateWindow())
            .isEqualTo(Duration.ofMinutes(14).plusSeconds(10));
        MessageInfo m = jsm.getMessage(stream, 1);
        assertThat(m.getHeaders().getFirst(NatsHeaders.MSG_ID)).isEqualTo(event.id().toString());
      }
    } finally {
      deleteStream(stream);
    }
  }

  @Test
  void relay_onNats_refusesAStreamWhoseDuplicateWindowIsShorterThanItsRetryHorizon()
      throws Exception {
    requireNats();
    String subject = "cli-relay." + UUID.randomUUID().toString().replace("-", "");
    String stream = JetStreamTransport.defaultStreamName(subject);
    try (io.nats.client.Connection c = Nats.connect(NATS_URL)) {
      // made by an operator with the server's default window, or for a shorter retry schedule
      c.jetStreamManagement()
          .addStream(
              StreamConfiguration.builder()
                  .name(stream)
                  .subjects(subject)
                  .storageType(StorageType.File)
                  .duplicateWindow(Duration.ofMinutes(2))
                  .build());
    }
    try {
      Event event = append(subject, "order-1");
      env.put("COURIER_NATS_URL", NATS_URL);

      CliRun run = CliRun.of(env, "relay", "--transport", "nats");

      assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
      assertThat(run.err())
          .contains(
              "duplicate_window 2m is shorter than the relay's retry horizon 13m10s; a republish"
                  + " after the window is stored twice (stream "
                  + stream
                  + ")")
          .contains("nats stream edit " + stream + " --dupe-window 14m10s")
          .doesNotContain("allowDuplicateWindowShorterThanRetryHorizon");
      assertThat(status(event.id())).as("nothing was published").isEqualTo("PENDING");

      // retrying for less (3 attempts, at most 10s apart, 5s publish timeout: 3s + 2 x 6s = 15s)
      // fits the window, and the relay starts
      env.put("COURIER_RELAY_MAX_ATTEMPTS", "3");
      env.put("COURIER_RELAY_MAX_BACKOFF", "10s");
      env.put("COURIER_RELAY_PUBLISH_TIMEOUT", "5s");
      RunningRelay relay = RunningRelay.start(env, "relay", "--transport", "nats");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> assertThat(status(event.id())).as(relay.err()).isEqualTo("PUBLISHED"));
      assertThat(relay.stop()).as(relay.err()).isZero();
    } finally {
      deleteStream(stream);
    }
  }

  @Test
  void relay_onNats_refusesADuplicateWindowSetShorterThanItsRetryHorizon() {
    requireNats();
    String destination = "cli-relay." + UUID.randomUUID().toString().replace("-", "");
    env.put("COURIER_NATS_URL", NATS_URL);
    env.put("COURIER_NATS_DUPLICATE_WINDOW", "1m");
    env.put("COURIER_RELAY_DESTINATIONS", destination); // no row needed: checked at start

    CliRun run = CliRun.of(env, "relay", "--transport", "nats");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err())
        .contains("duplicate_window 1m is shorter than the relay's retry horizon 13m10s");
    // never created, if all is well
    deleteStream(JetStreamTransport.defaultStreamName(destination));
  }

  @Test
  void relay_withALongPollInterval_isWokenByAWriterInAnotherProcess() throws Exception {
    requireNats();
    String subject = "cli-relay." + UUID.randomUUID().toString().replace("-", "");
    env.put("COURIER_NATS_URL", NATS_URL);
    env.put("COURIER_RELAY_MIN_POLL_INTERVAL", "1m");
    env.put("COURIER_RELAY_MAX_POLL_INTERVAL", "1h");
    env.put("COURIER_RELAY_DESTINATIONS", subject);
    try {
      RunningRelay relay = RunningRelay.start(env, "relay", "--transport", "nats");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(() -> assertThat(relay.err()).contains("publishing courier_outbox"));
      long started = System.nanoTime();
      // The listener looks once when it connects, then rechecks 1, 2, 4 ... ms later, doubling:
      // after about 4.1 s the next look is at about 8.2 s. A commit at 4.6 s is found before then
      // only through the notification.
      Thread.sleep(4_600);

      Event event;
      try (PgWakeups.Notifier notifier =
          PgWakeups.notifier(schema, PgWakeups.DEFAULT_CHANNEL, Duration.ofMillis(20))) {
        Outbox outbox = Outbox.builder().onAppend(notifier).build();
        try (Connection c = schema.getConnection()) {
          c.setAutoCommit(false);
          event =
              outbox.append(
                  c, Event.builder("OrderConfirmed").destination(subject).key("k").payload("{}"));
          c.commit();
        }
        await()
            .atMost(Duration.ofSeconds(2))
            .pollInterval(Duration.ofMillis(20))
            .untilAsserted(() -> assertThat(status(event.id())).isEqualTo("PUBLISHED"));
      }
      assertThat(Duration.ofNanos(System.nanoTime() - started))
          .as("published before the relay's next look of its own")
          .isLessThan(Duration.ofMillis(7_800));
      assertThat(relay.stop()).as(relay.err()).isZero();
    } finally {
      deleteStream(JetStreamTransport.defaultStreamName(subject));
    }
  }

  private Event append(String destination, String key) throws Exception {
    try (Connection c = schema.getConnection()) {
      c.setAutoCommit(false);
      Event event =
          Outbox.builder()
              .build()
              .append(
                  c,
                  Event.builder("OrderConfirmed").destination(destination).key(key).payload("{}"));
      c.commit();
      return event;
    }
  }

  private String status(UUID eventId) throws Exception {
    try (Connection c = schema.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT status FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, eventId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private static ConnectionFactory rabbit() throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setUri("amqp://guest:guest@127.0.0.1:5672");
    return f;
  }

  private static void requireRabbitMq() {
    Servers.requireReachable("RabbitMQ", "127.0.0.1", 5672, "rabbitmq-server -detached");
  }

  private static void requireNats() {
    Servers.requireReachable("NATS with JetStream", "127.0.0.1", 4222, "nats-server -js");
  }

  private static void deleteStream(String stream) {
    try (io.nats.client.Connection c = Nats.connect(NATS_URL)) {
      c.jetStreamManagement().deleteStream(stream);
    } catch (Exception e) {
      // not there
    }
  }

  /** {@code courier relay} running in this JVM until {@link #stop()}. */
  private record RunningRelay(
      RelayCommand command, CompletableFuture<Integer> exit, StringWriter errText) {
    static RunningRelay start(Map<String, String> env, String... args) {
      CommandLine cli = CourierCli.commandLine(env);
      StringWriter err = new StringWriter();
      cli.setErr(new PrintWriter(err, true));
      cli.setOut(new PrintWriter(new StringWriter(), true));
      RelayCommand command = cli.getSubcommands().get("relay").getCommand();
      return new RunningRelay(
          command, CompletableFuture.supplyAsync(() -> cli.execute(args)), err);
    }

    String err() {
      return errText.toString();
    }

    int stop() throws Exception {
      command.requestStop();
      return exit.get(60, TimeUnit.SECONDS);
    }
  }
}
