package dev.courier.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Keeps the benchmark from rotting: every workload runs once, for about a second, against the real
 * engines, and must produce sane numbers. Nothing here judges speed: no figure is compared with a
 * goal or a threshold, so a slow or busy machine cannot fail it.
 */
class BenchSmokeTest {

  @Test
  void everyWorkload_runsBriefly_andReportsPositiveFiniteFigures() {
    BenchOptions options =
        new BenchOptions(
            EnumSet.allOf(Workload.class),
            1,
            Duration.ofMillis(600),
            Duration.ofMillis(200),
            1_000,
            List.of(256),
            List.of(1, 2),
            167,
            Duration.ofSeconds(2),
            Duration.ofMillis(300),
            List.of(10),
            false,
            false,
            "512m",
            Path.of("target", "smoke-results.md"),
            "(smoke test)",
            200,
            500,
            Duration.ofSeconds(1),
            200,
            List.of(20),
            new BenchOptions.SoakOptions(Duration.ofSeconds(4), Duration.ofSeconds(2), 167, dev.courier.relay.Relay.ClaimMode.LOG),
            false);

    BenchReport report = new Bench(options).run();

    assertThat(report.runs()).hasSize(1);
    Set<Workload> measured =
        report.summaries().stream().map(BenchReport.Summary::workload).collect(Collectors.toSet());
    assertThat(measured).containsExactlyInAnyOrderElementsOf(EnumSet.allOf(Workload.class));
    for (BenchReport.Summary s : report.summaries()) {
      double v = s.median();
      if (s.workload() == Workload.SOAK && !s.id().matches("(w\\d+\\.)?p[0-9.]+|max|events")) {
        // tuple counts, sizes, prunes and vacuums can be 0 in a 4-second soak; the drift can be negative
        assertThat(v).as(s.workload() + " " + s.id()).isFinite().isGreaterThan(-1);
      } else if (s.id().endsWith(".consumer_share.p50")) {
        // a difference of two medians (the relay's timer also counts the warm-up): in a 2-second
        // run it may come out at or below zero
        assertThat(v).as(s.workload() + " " + s.id()).isFinite();
      } else if (s.id().startsWith("cpu.") && !s.id().contains("jvm")) {
        // another process's CPU time may be unreadable on some systems; then it is NaN, never negative
        assertThat(Double.isNaN(v) || v >= 0).as(s.workload() + " " + s.id() + " = " + v).isTrue();
      } else {
        assertThat(v).as(s.workload() + " " + s.id()).isFinite().isPositive();
      }
    }
    // log mode's goals: beside the loop and the ceiling, shared by three relays, at a large
    // backlog, end to end, and against Debezium
    assertThat(report.summaries().stream().map(BenchReport.Summary::id))
        .contains(
            "drain_log_vs_ceiling.256",
            "drain_log_vs_loop.256",
            "drain_log_shared_vs_one.256",
            "log.large_vs_small",
            "log.p99",
            "drain_log_ratio");
    // W3's consumer share, held to 2 ms on each broker; Kafka always runs
    assertThat(report.summaries().stream().map(BenchReport.Summary::id)).contains("kafka.consumer_share.p50");
    if ("true".equals(System.getenv("CI"))) {
      // CI starts RabbitMQ and NATS: their ceilings, drains and W3 must be measured, not skipped
      assertThat(report.summaries().stream().map(BenchReport.Summary::id))
          .contains(
              "rabbitmq.ceiling.256", "rabbitmq.drain_vs_ceiling.256", "jetstream.ceiling.256", "jetstream.drain_vs_ceiling.256",
              "rabbitmq.p50", "rabbitmq.consumer_share.p50", "nats.p50", "nats.consumer_share.p50");
    }
    assertThat(report.toMarkdown())
        .contains("### W0", "### W1", "### W2", "### W3", "### W4", "### W5", "### W6", "### GRUELBOX", "### DEBEZIUM", "### MODULITH", "### SOAK", "fsync", "synchronous_commit", "nproc");
  }

  @Test
  void commandLine_isParsed_andWrongValuesNameTheOption() {
    BenchOptions o =
        BenchOptions.parse(new String[] {"--workloads", "W1,w3", "--runs", "5", "--duration", "500ms", "--million"});
    assertThat(o.workloads()).containsExactlyInAnyOrder(Workload.W1, Workload.W3);
    assertThat(o.runs()).isEqualTo(5);
    assertThat(o.duration()).isEqualTo(Duration.ofMillis(500));
    assertThat(o.backlog()).isEqualTo(1_000_000);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--runs", "0"}))
        .hasMessageContaining("--runs");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--workloads", "W9"}))
        .hasMessageContaining("W9");
  }

  @Test
  void durations_takeAUnit_andOnlyWarmUpsMayBeZero() {
    BenchOptions o =
        BenchOptions.parse(new String[] {"--duration", "1m30s", "--warmup", "0", "--e2e-warmup", "0s", "--soak-window", "PT5M"});
    assertThat(o.duration()).isEqualTo(Duration.ofSeconds(90));
    assertThat(o.warmup()).isZero();
    assertThat(o.e2eWarmup()).isZero();
    assertThat(o.soak().window()).isEqualTo(Duration.ofMinutes(5));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--duration", "10"}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--duration: '10' has no unit; write it like 10s or 10ms");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--e2e-duration", "0s"}))
        .hasMessage("--e2e-duration: must be more than zero, was '0s'");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> BenchOptions.parse(new String[] {"--warmup", "1.5s"}))
        .hasMessage("--warmup: '1.5s' is not a whole number; write it in a smaller unit, like 1500ms");
  }
}
