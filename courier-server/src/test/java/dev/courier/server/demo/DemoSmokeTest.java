package dev.courier.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.server.CourierCli;
import dev.courier.testkit.Servers;
import dev.courier.testkit.TestDatabase;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The demo, end to end on real engines (the local or embedded PostgreSQL, and an embedded Kafka
 * broker, the local RabbitMQ or the local NATS JetStream), briefly and with its faults turned up so
 * that every kind is injected even in a short run: on every transport the report must show every
 * invariant holding, at least one crash and one deduplicated redelivery, and the broker's view of
 * the dropped confirmations.
 */
class DemoSmokeTest {
  private static final Pattern RESULT =
      Pattern.compile(
          "RESULT PASS lost=0 phantom=0 max_effects_per_order=1 orders_committed=(\\d+)"
              + " duplicates_delivered=(\\d+) dedupe_hits=(\\d+) crashes=(\\d+) transport=(\\w+)");

  @TempDir Path workDir;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"kafka", "rabbitmq", "nats"})
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void demo_shortRunWithFaults_losesNothing_inventsNothing_appliesNothingTwice(String transport)
      throws Exception {
    switch (transport) {
      case "rabbitmq" ->
          Servers.requireReachable(
              "RabbitMQ",
              "127.0.0.1",
              5672,
              "rabbitmq-server -detached (Debian package rabbitmq-server), user guest/guest");
      case "nats" ->
          Servers.requireReachable(
              "NATS with JetStream",
              "127.0.0.1",
              4222,
              "nats-server -js -a 127.0.0.1 -p 4222 (Debian package nats-server)");
      default -> {} // an embedded broker
    }
    List<String> schemasBefore = demoSchemas();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int exit =
        CourierCli.execute(
            Map.of(),
            new PrintWriter(out, true),
            new PrintWriter(err, true),
            "demo",
            "--transport",
            transport,
            "--duration",
            "5s",
            "--warm-up",
            "1s",
            "--rate",
            "200",
            "--drop-confirm-rate",
            "1%",
            "--consumer-crash-rate",
            "1/150",
            "--work-dir",
            workDir.toString());

    String report = out.toString();
    assertThat(exit).as("exit code; stdout:%n%s%nstderr:%n%s", report, err).isZero();
    assertThat(report)
        .contains("transport " + transport)
        .containsPattern("lost \\(must be 0\\) +0 +0")
        .containsPattern("phantom \\(must be 0\\) +0 +0")
        .containsPattern("effects per order \\(max, must be 1\\) +1 +1")
        .contains("no loss            OK")
        .contains("no phantom         OK")
        .contains("no double effect   OK")
        .contains("Drained:");
    Matcher result = RESULT.matcher(report);
    assertThat(result.find()).as(report).isTrue();
    assertThat(result.group(5)).isEqualTo(transport);
    long committed = Long.parseLong(result.group(1));
    long duplicatesDelivered = Long.parseLong(result.group(2));
    long dedupeHits = Long.parseLong(result.group(3));
    long crashes = Long.parseLong(result.group(4));
    assertThat(committed).isGreaterThan(800);
    assertThat(crashes).as("crashes injected%n%s", report).isPositive();
    assertThat(dedupeHits).as("dedupe hits%n%s", report).isPositive();
    // every dedupe hit is a delivery beyond the first of its event
    assertThat(duplicatesDelivered).as(report).isGreaterThanOrEqualTo(dedupeHits);

    long dropped = row(report, "confirmations dropped (injected)");
    assertThat(dropped).as("dropped confirmations%n%s", report).isPositive();
    switch (transport) {
      // each dropped confirmation was published again: a second record on the topic...
      case "kafka" ->
          assertThat(row(report, "duplicate records on the topic")).isGreaterThanOrEqualTo(dropped);
      // ...a second message in each queue, so each consumer receives it twice...
      case "rabbitmq" -> {
        assertThat(duplicatesDelivered).isGreaterThanOrEqualTo(2 * dropped);
        assertThat(row(report, "messages the broker dead-lettered")).isZero();
      }
      // ...or a duplicate the stream recognised by its Nats-Msg-Id and stored once
      case "nats" ->
          assertThat(row(report, "republishes the stream dropped")).isGreaterThanOrEqualTo(dropped);
      default -> throw new AssertionError(transport);
    }

    // it said where its metrics and its dashboard were served, and where the Grafana one comes from
    assertThat(report)
        .containsPattern("Metrics \\(Prometheus, while the demo runs\\): http://127\\.0\\.0\\.1:\\d+/metrics")
        .containsPattern(
            "Dashboard \\(open in a browser while the demo runs\\): http://127\\.0\\.0\\.1:\\d+/"
                + "  \\(dead letters read-only; set COURIER_ADMIN_TOKEN to replay\\)\\R")
        .contains("ops/grafana/courier-dashboard.json");

    // the JSON log went to the file, not to the terminal
    assertThat(report).doesNotContain("{\"ts\"");
    Path log = workDir.resolve("courier-demo.log");
    assertThat(report).contains("Logs (JSON lines): " + log.toAbsolutePath());
    List<String> lines = Files.readAllLines(log);
    assertThat(lines).isNotEmpty();
    ObjectMapper json = new ObjectMapper();
    for (String line : lines) {
      JsonNode node = json.readTree(line);
      assertThat(node.has("ts") && node.has("level") && node.has("msg")).as(line).isTrue();
    }
    // the run cleans up after itself: its schema, and its exchange and queues or its stream
    assertThat(demoSchemas()).isEqualTo(schemasBefore);
    switch (transport) {
      case "rabbitmq" -> assertThat(String.join("\n", lines)).contains("deleted exchange orders-");
      case "nats" ->
          assertThat(String.join("\n", lines)).contains("deleted stream COURIER_ORDERS-");
      default -> {}
    }
  }

  @Test
  void demo_whenTheBrokerIsUnreachable_saysWhereAndHowToStartIt_andExitsWithTwo() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int exit =
        CourierCli.execute(
            Map.of(),
            new PrintWriter(out, true),
            new PrintWriter(err, true),
            "demo",
            "--transport",
            "rabbitmq",
            "--rabbitmq-uri",
            "amqp://demo:s3cret@127.0.0.1:1",
            "--work-dir",
            workDir.toString());

    assertThat(exit).as("stderr:%n%s", err).isEqualTo(CourierCli.USAGE);
    assertThat(err.toString())
        .contains("courier: RabbitMQ is not reachable at amqp://demo:****@127.0.0.1:1")
        .contains("--rabbitmq-uri")
        .doesNotContain("s3cret")
        .doesNotContain("\tat ");
  }

  /** The number in a report row. */
  private static long row(String report, String label) {
    Matcher m = Pattern.compile(Pattern.quote(label) + " +([\\d,]+)").matcher(report);
    assertThat(m.find()).as("row '%s' in%n%s", label, report).isTrue();
    return Long.parseLong(m.group(1).replace(",", ""));
  }

  private static List<String> demoSchemas() throws Exception {
    List<String> names = new ArrayList<>();
    try (Connection c = TestDatabase.shared().dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'courier_demo_%' ORDER BY"
                    + " 1")) {
      while (rs.next()) {
        names.add(rs.getString(1));
      }
    }
    return names;
  }
}
