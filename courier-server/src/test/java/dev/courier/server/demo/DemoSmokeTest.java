package dev.courier.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.server.CourierCli;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo, end to end on real engines (the local or embedded PostgreSQL, an embedded Kafka
 * broker), briefly and with its faults turned up so that every kind is injected even in a short
 * run: the report must show every invariant holding.
 */
class DemoSmokeTest {
  @TempDir Path workDir;

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void demo_shortRunWithFaults_losesNothing_inventsNothing_appliesNothingTwice() throws Exception {
    List<String> schemasBefore = demoSchemas();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int exit =
        CourierCli.execute(
            Map.of(),
            new PrintWriter(out, true),
            new PrintWriter(err, true),
            "demo",
            "--duration",
            "5s",
            "--rate",
            "200",
            "--drop-confirm-rate",
            "1%",
            "--consumer-crash-rate",
            "1/300",
            "--work-dir",
            workDir.toString());

    String report = out.toString();
    assertThat(exit).as("exit code; stdout:%n%s%nstderr:%n%s", report, err).isZero();
    assertThat(report)
        .contains("RESULT PASS lost=0 phantom=0 max_effects_per_order=1")
        .containsPattern("lost \\(must be 0\\) +0 +0")
        .containsPattern("phantom \\(must be 0\\) +0 +0")
        .containsPattern("effects per order \\(max, must be 1\\) +1 +1")
        .contains("no loss            OK")
        .contains("Drained:");
    assertThat(committedOrders(report)).isGreaterThan(800);
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
    // the run cleans up after itself
    assertThat(demoSchemas()).isEqualTo(schemasBefore);
  }

  private static long committedOrders(String report) {
    var m = java.util.regex.Pattern.compile("orders_committed=(\\d+)").matcher(report);
    assertThat(m.find()).as(report).isTrue();
    return Long.parseLong(m.group(1));
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
