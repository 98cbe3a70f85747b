package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.embedded.KafkaEndpoint;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.server.logging.LogRouting;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * The log contract of docs/LOGGING.md, checked on the log of a real run: an application writes
 * events, {@code courier relay} (configured with canary secrets) publishes them to Kafka, and a
 * consumer applies them, retries one, dead-letters a poison one and skips a redelivered one. The
 * whole log goes through the server's JSON encoder at DEBUG (Kafka clients at INFO, so that their
 * configuration dumps are in it too). Then every line must be JSON, every line about an event must
 * carry {@code event_id} and {@code correlation_id}, and no canary may appear anywhere.
 */
class LogContractTest {
  private static final String CANARY = "canary-S3cr3t!";
  private static final String PAYLOAD_CANARY = "payload-canary-4242";
  private static final Path LOGGING_MD = Path.of("../docs/LOGGING.md");
  private static final Pattern CATALOG_ROW =
      Pattern.compile("^\\| [a-z]+ \\| `([a-zA-Z0-9_.]+)` \\| [A-Z]+ \\| `([^`]+)` \\|", Pattern.MULTILINE);

  @TempDir Path dir;

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everyEventLineOfARealRun_carriesEventAndCorrelationIds_andNoSecretOrPayloadIsLogged()
      throws Exception {
    TestDatabase tdb = TestDatabase.shared();
    PGSimpleDataSource db = tdb.freshSchema("log_contract");
    Schema.migrate(db, CourierTables.DEFAULT);
    String run = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000_0000, Integer.MAX_VALUE));
    String topic = "log-contract-" + run;
    String bootstrap = KafkaEndpoint.fromEnvironmentOrEmbedded().bootstrapServers();
    KafkaEndpoint.fromEnvironmentOrEmbedded().createTopic(topic, 2);
    String jaas =
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"courier\""
            + " password=\"" + CANARY + "\";";
    // the canary is the database password unless the test database needs a real one
    boolean canaryIsDbPassword = tdb.password() == null;
    Path config = dir.resolve("courier.properties");
    Files.writeString(
        config,
        String.join(
            "\n",
            "courier.db.url=" + tdb.jdbcUrl(),
            tdb.user() == null ? "" : "courier.db.user=" + tdb.user(),
            "courier.db.password=" + (canaryIsDbPassword ? CANARY : tdb.password()),
            "courier.db.schema=" + db.getCurrentSchema(),
            "courier.kafka.bootstrap-servers=" + bootstrap,
            "courier.kafka.property.sasl.jaas.config=" + jaas.replace("\\", "\\\\"),
            "courier.relay.id=log-contract-" + run,
            "courier.http.port=0",
            ""),
        StandardCharsets.UTF_8);

    Path log = dir.resolve("courier.log");
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    Level courierLevel = logback.getLogger("dev.courier").getLevel();
    Level kafkaLevel = logback.getLogger("org.apache.kafka").getLevel();
    Map<UUID, String> correlationOf = new LinkedHashMap<>();
    String consumer = "invoicing-" + run;
    LogRouting routing = LogRouting.toFile(log);
    logback.getLogger("dev.courier").setLevel(Level.DEBUG);
    logback.getLogger("org.apache.kafka").setLevel(Level.INFO);
    CommandLine cli = CourierCli.commandLine(Map.of());
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err, true));
    cli.setOut(new PrintWriter(new StringWriter(), true));
    RelayCommand relay = cli.getSubcommands().get("relay").getCommand();
    try (KafkaTransport transport =
        KafkaTransport.builder().bootstrapServers(bootstrap).property("sasl.jaas.config", jaas).build()) {
      // the application writes: some events with a correlation id, some without, one poison, one
      // whose handler fails once
      Outbox outbox = Outbox.builder().build();
      try (Connection c = db.getConnection()) {
        c.setAutoCommit(false);
        for (int i = 0; i < 6; i++) {
          Event.Builder b =
              Event.builder("InvoiceRequested")
                  .destination(topic)
                  .key("order-" + i)
                  .payload("{\"note\":\"" + PAYLOAD_CANARY + "\"}")
                  .header("customer-email", PAYLOAD_CANARY + "@example.com");
          if (i % 2 == 0) {
            b.correlationId("order-" + i).causationId("checkout-" + i);
          }
          Event e = outbox.append(c, b);
          correlationOf.put(e.id(), e.correlationId() != null ? e.correlationId() : e.id().toString());
        }
        for (String type : List.of("Poison", "Flaky")) {
          Event e =
              outbox.append(
                  c,
                  Event.builder(type)
                      .destination(topic)
                      .correlationId("order-" + type)
                      .payload(PAYLOAD_CANARY));
          correlationOf.put(e.id(), e.correlationId());
        }
        c.commit();
      }

      CompletableFuture<Integer> exit =
          CompletableFuture.supplyAsync(() -> cli.execute("relay", "-c", config.toString()));

      AtomicBoolean flakyFailed = new AtomicBoolean();
      IdempotentProcessor processor =
          IdempotentProcessor.builder(
                  consumer,
                  db,
                  (event, connection) -> {
                    if (event.type().equals("Poison")) {
                      throw new PoisonEventException("invoice total is negative");
                    }
                    if (event.type().equals("Flaky") && flakyFailed.compareAndSet(false, true)) {
                      throw new IllegalStateException("tax service timed out");
                    }
                  })
              .meterRegistry(new SimpleMeterRegistry())
              .build();
      // the first applied event's consumer dies before acknowledging: its successor gets the
      // record again and the ledger reports a duplicate
      AtomicBoolean crashed = new AtomicBoolean();
      SubscriptionSpec crashOnce =
          SubscriptionSpec.of(topic)
              .withAfterCommit(
                  e -> {
                    if (crashed.compareAndSet(false, true)) {
                      throw new SubscriptionSpec.SimulatedCrash("simulated crash after the commit");
                    }
                  });
      AtomicReference<Subscription> subscription =
          new AtomicReference<>(transport.subscribe(crashOnce, processor));
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> !subscription.get().isRunning());
        subscription.get().close();
        subscription.set(transport.subscribe(SubscriptionSpec.of(topic), processor));
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> count(db, "courier_processed_events") == 7 && count(db, "courier_dead_letters") == 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("duplicate delivery skipped"));
      } finally {
        subscription.get().close();
        relay.requestStop();
        assertThat(exit.get(60, TimeUnit.SECONDS)).as(err.toString()).isZero();
      }
    } finally {
      routing.close();
      logback.getLogger("dev.courier").setLevel(courierLevel);
      logback.getLogger("org.apache.kafka").setLevel(kafkaLevel);
      tdb.dropSchema(db);
    }

    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    assertThat(lines).hasSizeGreaterThan(50);
    Map<String, String> catalog = catalog();
    Set<String> seen = new HashSet<>();
    ObjectMapper json = new ObjectMapper();
    Pattern anyEventId = Pattern.compile(String.join("|", correlationOf.keySet().stream().map(UUID::toString).toList()));
    for (String line : lines) {
      assertThat(line).as("no secret in any line").doesNotContain(CANARY);
      assertThat(line).as("no payload or header value in any line").doesNotContain(PAYLOAD_CANARY);
      JsonNode n = json.readTree(line);
      assertThat(n.isObject()).as(line).isTrue();
      for (String field : List.of("ts", "level", "logger", "thread", "msg")) {
        assertThat(n.path(field).isTextual()).as("%s in %s", field, line).isTrue();
      }
      String logger = n.get("logger").asText();
      String msg = n.get("msg").asText();
      boolean listed = false;
      for (Map.Entry<String, String> entry : catalog.entrySet()) {
        String[] key = entry.getKey().split(" ", 2);
        if (logger.equals(key[0]) && msg.startsWith(entry.getValue())) {
          listed = true;
          seen.add(entry.getValue());
        }
      }
      boolean eventFields = n.has("event_id") || n.has("correlation_id") || n.has("event_type") || n.has("causation_id");
      boolean namesAnEvent = logger.startsWith("dev.courier") && anyEventId.matcher(msg).find();
      if (listed || eventFields || namesAnEvent) {
        assertThat(n.path("event_id").asText()).as("event_id in %s", line).isNotBlank();
        assertThat(n.path("correlation_id").asText()).as("correlation_id in %s", line).isNotBlank();
        UUID id = UUID.fromString(n.get("event_id").asText());
        assertThat(n.get("correlation_id").asText())
            .as("the event's correlation id, or its own id when it has none: %s", line)
            .isEqualTo(correlationOf.get(id));
      }
    }
    assertThat(seen)
        .as("kinds of event lines the run produced")
        .contains(
            "event appended",
            "event published",
            "event applied",
            "duplicate delivery skipped",
            "handler attempt ",
            "event dead-lettered after ",
            "partition paused until the retry");
    if (canaryIsDbPassword) {
      assertThat(err.toString()).doesNotContain(CANARY);
    }
    assertThat(String.join("\n", lines))
        .as("the Kafka clients logged their configuration, with the JAAS password hidden")
        .contains("sasl.jaas.config = [hidden]");
  }

  /** The event lines LOGGING.md lists: "logger prefix" to message prefix. */
  private static Map<String, String> catalog() throws Exception {
    Map<String, String> rows = new HashMap<>();
    Matcher m = CATALOG_ROW.matcher(Files.readString(LOGGING_MD));
    List<String> found = new ArrayList<>();
    while (m.find()) {
      rows.put(m.group(1) + " " + m.group(2), m.group(2));
      found.add(m.group(2));
    }
    assertThat(found).as("event lines listed in %s", LOGGING_MD).hasSizeGreaterThan(10);
    return rows;
  }

  private static long count(PGSimpleDataSource db, String table) throws Exception {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
