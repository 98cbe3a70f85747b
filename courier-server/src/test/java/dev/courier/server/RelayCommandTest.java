package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Event;
import dev.courier.embedded.KafkaEndpoint;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaHeaders;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine;

/** {@code courier relay} as a process would run it, against real PostgreSQL and Kafka. */
class RelayCommandTest {
  private TestDatabase db;
  private PGSimpleDataSource schema;

  @BeforeEach
  void setUp() {
    db = TestDatabase.shared();
    schema = db.freshSchema("cli_relay");
    Schema.migrate(schema, CourierTables.DEFAULT);
  }

  @AfterEach
  void tearDown() {
    db.dropSchema(schema);
  }

  @Test
  void relay_publishesCommittedEvents_untilAskedToStop_thenExitsCleanly() throws Exception {
    String topic = "cli-relay-" + UUID.randomUUID();
    String bootstrap = KafkaEndpoint.fromEnvironmentOrEmbedded().bootstrapServers();
    Outbox outbox = Outbox.builder().build();
    Event event;
    try (Connection c = schema.getConnection()) {
      c.setAutoCommit(false);
      event =
          outbox.append(
              c, Event.builder("OrderConfirmed").destination(topic).key("order-1").payload("{}"));
      c.commit();
    }
    Map<String, String> env = new HashMap<>();
    env.put("COURIER_DB_URL", db.jdbcUrl());
    env.put("COURIER_DB_SCHEMA", schema.getCurrentSchema());
    if (db.user() != null) {
      env.put("COURIER_DB_USER", db.user());
    }
    env.put("COURIER_KAFKA_BOOTSTRAP_SERVERS", bootstrap);
    env.put("COURIER_HTTP_PORT", "0");
    CommandLine cli = CourierCli.commandLine(env);
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err, true));
    cli.setOut(new PrintWriter(new StringWriter(), true));
    RelayCommand relay = cli.getSubcommands().get("relay").getCommand();

    CompletableFuture<Integer> exit =
        CompletableFuture.supplyAsync(() -> cli.execute("relay", "--relay-id", "cli-test"));

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> assertThat(status(event.id())).isEqualTo("PUBLISHED"));
    assertThat(eventIdsOn(bootstrap, topic)).containsExactly(event.id().toString());

    // while it runs, it serves its metrics and health on the loopback address
    Pattern metricsAt = Pattern.compile("metrics at (http://127\\.0\\.0\\.1:\\d+/)metrics");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(metricsAt.matcher(err.toString()).find()).as(err.toString()).isTrue());
    Matcher at = metricsAt.matcher(err.toString());
    assertThat(at.find()).isTrue();
    URI base = URI.create(at.group(1));
    HttpResponse<String> metrics = get(base.resolve("/metrics"));
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body())
        .contains("courier_relay_published_events_total{destination=\"" + topic + "\",transport=\"kafka\"} 1.0")
        .contains("courier_relay_running_relays{relay=\"cli-test\",transport=\"kafka\"} 1.0")
        .containsPattern("courier_outbox_backlog_events [0-9.]+")
        .containsPattern("courier_outbox_horizon_lag_seconds [0-9.]+")
        .contains("jvm_memory_used_bytes");
    assertThat(get(base.resolve("/health/live")).statusCode()).isEqualTo(200);
    HttpResponse<String> ready = get(base.resolve("/health/ready"));
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
    JsonNode checks = new ObjectMapper().readTree(ready.body()).get("checks");
    assertThat(checks.fieldNames()).toIterable().containsExactly("outbox", "dead-letters", "consumers", "horizon", "relay");

    relay.requestStop();
    assertThat(exit.get(60, TimeUnit.SECONDS)).as(err.toString()).isZero();
    assertThat(err.toString())
        .contains("courier relay cli-test: publishing courier_outbox")
        .contains("stopped.");
    assertThatThrownBy(() -> get(base.resolve("/health/live")))
        .as("the endpoints stop with the relay")
        .isInstanceOf(java.io.IOException.class);
  }

  private static HttpResponse<String> get(URI uri) throws Exception {
    return HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void relay_withoutCouriersTables_failsWithAHintToMigrate() {
    Map<String, String> env = new HashMap<>();
    env.put("COURIER_DB_URL", db.jdbcUrl());
    if (db.user() != null) {
      env.put("COURIER_DB_USER", db.user());
    }
    env.put("COURIER_TABLES_OUTBOX", "no_such_outbox");
    env.put("COURIER_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9");

    CliRun run = CliRun.of(env, "relay");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.FAILED);
    assertThat(run.err())
        .contains("the outbox table no_such_outbox is not usable")
        .contains("run 'courier migrate' first");
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

  private static List<String> eventIdsOn(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "cli-relay-test-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    List<String> ids = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (ids.isEmpty() && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          ids.add(
              new String(
                  r.headers().lastHeader(KafkaHeaders.EVENT_ID).value(), StandardCharsets.UTF_8));
        }
      }
    }
    return ids;
  }
}
