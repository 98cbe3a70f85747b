package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.courier.testkit.Servers;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The alert rules and the dashboard in {@code ops/} are valid for the tools that load them:
 * Prometheus' own {@code promtool} checks the rules and runs their unit tests, and the dashboard is
 * checked for what Grafana needs to import it.
 *
 * <p>Without {@code promtool} on the PATH (Debian package {@code prometheus}; {@code .ci/run}
 * installs it) the promtool tests are skipped with a banner on a developer's machine, and fail on
 * CI ({@code CI=true}).
 */
class ShippedAlertRulesTest {
  private static final Path RULES = AlertRules.FILE;
  private static final Path RULE_TESTS = Path.of("../ops/prometheus/courier-alerts.test.yml");
  private static final Path DASHBOARD = Path.of("../ops/grafana/courier-dashboard.json");

  @Test
  void alertRules_passPromtoolCheckRules() throws Exception {
    Result r = promtool("check", "rules", RULES.toString());

    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).contains("SUCCESS: " + AlertRules.shipped().all().size() + " rules found");
  }

  @Test
  void alertRules_fireWhenTheirUnitTestsSay() throws Exception {
    Result r = promtool("test", "rules", RULE_TESTS.toString());

    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).contains("SUCCESS");
  }

  @Test
  void everyAlert_hasASeverity_aSummaryAndADescription_andEveryOneIsUnitTested() throws Exception {
    JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(RULES.toFile());
    String tests = Files.readString(RULE_TESTS);
    List<String> names = new ArrayList<>();
    for (JsonNode group : root.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        String name = rule.path("alert").asText();
        names.add(name);
        assertThat(rule.at("/labels/severity").asText()).as(name).isIn("warning", "critical");
        assertThat(rule.at("/annotations/summary").asText()).as(name).isNotBlank();
        assertThat(rule.at("/annotations/description").asText()).as(name).isNotBlank();
        assertThat(tests).as("a unit test of %s in %s", name, RULE_TESTS).contains("alertname: " + name);
      }
    }
    assertThat(names)
        .contains(
            "CourierDeadLettersGrowing",
            "CourierOutboxOldestEventTooOld",
            "CourierPublishFailureRateHigh",
            "CourierConsumerRetryStorm",
            "CourierRelayDown");
  }

  @Test
  void dashboard_isImportableGrafanaJson_withAPrometheusDatasourceVariable_andAQueryInEveryPanel()
      throws Exception {
    JsonNode d = new ObjectMapper().readTree(DASHBOARD.toFile());

    assertThat(d.get("uid").asText()).isEqualTo("courier-overview");
    assertThat(d.get("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
    JsonNode ds = d.at("/templating/list/0");
    assertThat(ds.get("type").asText()).isEqualTo("datasource");
    assertThat(ds.get("query").asText()).isEqualTo("prometheus");
    List<String> titles = new ArrayList<>();
    for (JsonNode p : d.get("panels")) {
      if (p.get("type").asText().equals("row")) {
        continue;
      }
      String title = p.get("title").asText();
      titles.add(title);
      assertThat(p.at("/datasource/uid").asText()).as(title).isEqualTo("${datasource}");
      assertThat(p.get("targets")).as(title).isNotEmpty();
      for (JsonNode t : p.get("targets")) {
        assertThat(t.get("expr").asText()).as(title).contains("courier_");
      }
    }
    assertThat(String.join("\n", titles))
        .contains("Outbox backlog")
        .contains("Oldest pending event age")
        .contains("Publish rate")
        .contains("Consume rate")
        .contains("Consumer retries")
        .contains("Dedupe hits")
        .contains("Dead letters over time")
        .contains("End-to-end latency");
  }

  private record Result(int exit, String output) {}

  private static Result promtool(String... args) throws IOException, InterruptedException {
    Path promtool = findPromtool().orElse(null);
    if (promtool == null) {
      String how =
          "install Debian's prometheus package (apt-get install prometheus), or run .ci/run,"
              + " which extracts promtool from it";
      if (Servers.isCi()) {
        fail("promtool is not installed; CI=true, so the alert rules must be checked: " + how);
      }
      System.err.println(
          "\n*** SKIPPED: promtool is not on the PATH, so ops/prometheus/courier-alerts.yml was not"
              + " checked.\n*** To check it: "
              + how
              + ".\n");
      Assumptions.abort("promtool is not installed");
    }
    List<String> command = new ArrayList<>();
    command.add(promtool.toString());
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("promtool finished").isTrue();
    return new Result(p.exitValue(), out);
  }

  /** {@code promtool} on the PATH, or where environment variable PROMTOOL points. */
  static Optional<Path> findPromtool() {
    String explicit = System.getenv("PROMTOOL");
    if (explicit != null && !explicit.isBlank()) {
      return Optional.of(Path.of(explicit));
    }
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String dir : path.split(File.pathSeparator)) {
      Path candidate = Path.of(dir, "promtool");
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }
}
