package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.kafka.KafkaTransactionalProcessor;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Exported names carry their unit once: {@code courier_processor_transactions_total}, never {@code
 * courier_processor_transactions_transactions_total}. {@link AlertConditionsTest} applies the same
 * rule to every family a running relay, consumer and monitor export.
 */
class MetricNamesTest {
  private static final Pattern FAMILY = Pattern.compile("^# TYPE (\\S+) ", Pattern.MULTILINE);
  private static final Pattern UNIT_SUFFIX = Pattern.compile("(.*)_([a-z]+)$");

  /**
   * Whether a family's name says its unit twice, as {@code x_transactions_transactions} or {@code
   * x_event_events} would: the word before the unit is the unit (or its singular).
   */
  static boolean repeatsItsUnit(String family) {
    String name = family.endsWith("_total") ? family.substring(0, family.length() - 6) : family;
    Matcher m = UNIT_SUFFIX.matcher(name);
    if (!m.matches()) {
      return false;
    }
    String unit = m.group(2);
    String before = m.group(1);
    String previous = before.substring(before.lastIndexOf('_') + 1);
    return previous.equals(unit) || (unit.endsWith("s") && previous.equals(unit.substring(0, unit.length() - 1)));
  }

  @Test
  void theRule_catchesARepeatedUnit_andPassesASingleOne() {
    assertThat(repeatsItsUnit("courier_processor_transactions_transactions_total")).isTrue();
    assertThat(repeatsItsUnit("courier_relay_event_events_total")).isTrue();
    assertThat(repeatsItsUnit("courier_processor_transactions_total")).isFalse();
    assertThat(repeatsItsUnit("courier_relay_published_events_total")).isFalse();
    assertThat(repeatsItsUnit("courier_outbox_horizon_distance_transactions")).isFalse();
  }

  @Test
  void transactionalProcessor_exportsItsTransactionsOnce_withTheUnitNotRepeated() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      // built, not started: its counters are registered by the constructor, nothing connects
      KafkaTransactionalProcessor.builder()
          .bootstrapServers("127.0.0.1:9")
          .groupId("names")
          .transactionalId("names-0")
          .topics("in")
          .deadLetterTopic("in-dead")
          .transform(input -> List.of())
          .meterRegistry(registry)
          .build();

      Set<String> families = families(registry.scrape());

      assertThat(families)
          .contains(
              "courier_processor_transactions_total",
              "courier_processor_outputs_events_total",
              "courier_processor_retries_attempts_total")
          .noneMatch(MetricNamesTest::repeatsItsUnit);
      assertThat(registry.scrape())
          .contains("courier_processor_transactions_total{outcome=\"committed\",processor=\"names\"} 0.0");
    } finally {
      registry.close();
    }
  }

  @Test
  void everyPrometheusNameTheDocsAndOpsFilesMention_saysItsUnitOnce() throws IOException {
    Pattern name = Pattern.compile("\\bcourier_[a-z0-9_]+");
    List<Path> files = new ArrayList<>();
    for (String dir : List.of("../docs", "../ops")) {
      try (Stream<Path> walk = Files.walk(Path.of(dir))) {
        walk.filter(Files::isRegularFile)
            .filter(p -> p.toString().matches(".*\\.(md|yml|yaml|json)$"))
            .forEach(files::add);
      }
    }
    files.add(Path.of("../README.md"));
    assertThat(files).as("documents to check").hasSizeGreaterThan(5);

    Set<String> doubled = new TreeSet<>();
    for (Path f : files) {
      Matcher m = name.matcher(Files.readString(f));
      while (m.find()) {
        String n = m.group().replaceAll("_(bucket|count|sum|max)$", "");
        if (repeatsItsUnit(n)) {
          doubled.add(f + ": " + m.group());
        }
      }
    }
    assertThat(doubled).as("names that repeat their unit").isEmpty();
  }

  static Set<String> families(String scrape) {
    Set<String> names = new TreeSet<>();
    Matcher m = FAMILY.matcher(scrape);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }
}
