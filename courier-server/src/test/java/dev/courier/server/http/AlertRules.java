package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The alert rules shipped in {@code ops/prometheus/courier-alerts.yml}, read the way Prometheus
 * reads them, so that tests take their thresholds from the file instead of repeating them.
 */
final class AlertRules {
  static final Path FILE = Path.of("../ops/prometheus/courier-alerts.yml");

  private static final Pattern COMPARISON =
      Pattern.compile("(>=|<=|==|!=|>|<)\\s*([0-9]+(?:\\.[0-9]+)?)(?![0-9.]*[smhdwy])");
  private static final Pattern METRIC = Pattern.compile("\\bcourier_[a-z0-9_]+");

  private final Map<String, Rule> rules;

  private AlertRules(Map<String, Rule> rules) {
    this.rules = rules;
  }

  static AlertRules shipped() {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(FILE.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + FILE.toAbsolutePath(), e);
    }
    Map<String, Rule> rules = new LinkedHashMap<>();
    for (JsonNode group : root.path("groups")) {
      for (JsonNode r : group.path("rules")) {
        String name = r.path("alert").asText();
        rules.put(name, new Rule(name, r.path("expr").asText(), r.path("for").asText("0s")));
      }
    }
    return new AlertRules(rules);
  }

  Rule alert(String name) {
    Rule r = rules.get(name);
    assertThat(r).as("alert %s in %s", name, FILE).isNotNull();
    return r;
  }

  Map<String, Rule> all() {
    return rules;
  }

  /** One alert rule. */
  record Rule(String name, String expr, String forDuration) {

    /** Every comparison with a number in the expression, in order: {@code > 0.05}. */
    List<Comparison> comparisons() {
      List<Comparison> out = new ArrayList<>();
      Matcher m = COMPARISON.matcher(expr);
      while (m.find()) {
        out.add(new Comparison(m.group(1), Double.parseDouble(m.group(2))));
      }
      return out;
    }

    /** The rule's only comparison; fails if it has none or several. */
    Comparison threshold() {
      List<Comparison> c = comparisons();
      assertThat(c).as("comparisons in the expression of %s", name).hasSize(1);
      return c.getFirst();
    }

    /** The Courier metric names the expression reads. */
    Set<String> metricNames() {
      return AlertRules.metricNames(expr);
    }
  }

  static Set<String> metricNames(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(text);
    while (m.find()) {
      names.add(m.group());
    }
    return names;
  }

  /**
   * A threshold: the alert's condition holds for a value when {@code value op bound} does.
   */
  record Comparison(String op, double bound) {
    boolean holdsFor(double value) {
      return switch (op) {
        case ">" -> value > bound;
        case ">=" -> value >= bound;
        case "<" -> value < bound;
        case "<=" -> value <= bound;
        case "==" -> value == bound;
        default -> value != bound;
      };
    }

    @Override
    public String toString() {
      return op + " " + bound;
    }
  }
}
