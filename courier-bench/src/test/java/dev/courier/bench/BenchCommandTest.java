package dev.courier.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.relay.Relay;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The options of {@code ./courier bench}: defaults, what is refused and how (no engines needed). */
class BenchCommandTest {

  @Test
  void withoutOptions_everyWorkloadButSoakRunsThreeTimes_atTheDocumentedSizes() {
    BenchOptions o = BenchOptions.parse();

    assertThat(o.workloads()).isEqualTo(Workload.ALL).doesNotContain(Workload.SOAK);
    assertThat(o.runs()).isEqualTo(3);
    assertThat(o.duration()).isEqualTo(Duration.ofSeconds(10));
    assertThat(o.warmup()).isEqualTo(Duration.ofSeconds(2));
    assertThat(o.backlog()).isEqualTo(100_000);
    assertThat(o.payloadSizes()).containsExactly(256, 1024);
    assertThat(o.clients()).containsExactly(1, 8);
    assertThat(o.e2eRate()).isEqualTo(167);
    assertThat(o.e2eDuration()).isEqualTo(Duration.ofSeconds(60));
    assertThat(o.e2eWarmup()).isEqualTo(Duration.ofSeconds(5));
    assertThat(o.duplicatePercents()).containsExactly(1, 10);
    assertThat(o.e2eExperiment()).isFalse();
    assertThat(o.warmupRound()).isTrue();
    assertThat(o.kafkaHeap()).isEqualTo("1g");
    assertThat(o.output()).isEqualTo(Path.of("bench-results.md"));
    assertThat(o.gruelboxBacklog()).isEqualTo(5_000);
    assertThat(o.peerBacklog()).isEqualTo(50_000);
    assertThat(o.modulithBacklog()).isEqualTo(5_000);
    assertThat(o.peerE2eDuration()).isEqualTo(Duration.ofSeconds(20));
    assertThat(o.e2eLoads()).containsExactly(50, 80);
    assertThat(o.soak())
        .isEqualTo(new BenchOptions.SoakOptions(Duration.ofMinutes(60), Duration.ofMinutes(10), 167, Relay.ClaimMode.LEASE));
    assertThat(o.sweep()).isTrue();
    assertThat(o.commandLine()).isEmpty();
  }

  @Test
  void theDocumentedCommandLines_selectWhatTheySay() {
    BenchOptions w2 = BenchOptions.parse("--workloads", "W2", "--runs", "3");
    assertThat(w2.workloads()).containsExactly(Workload.W2);
    assertThat(w2.commandLine()).isEqualTo("--workloads W2 --runs 3");

    BenchOptions soak =
        BenchOptions.parse(
            "--workloads", "SOAK", "--runs", "1", "--no-warmup-round", "--soak-claim-mode", "log", "--output", "soak.md");
    assertThat(soak.workloads()).containsExactly(Workload.SOAK);
    assertThat(soak.warmupRound()).isFalse();
    assertThat(soak.soak().claimMode()).isEqualTo(Relay.ClaimMode.LOG);
    assertThat(soak.output()).isEqualTo(Path.of("soak.md"));

    BenchOptions w3 = BenchOptions.parse("--workloads=w3", "--e2e-loads", "0", "--no-sweep", "--e2e-experiment");
    assertThat(w3.workloads()).containsExactly(Workload.W3);
    assertThat(w3.e2eLoads()).as("0 for none").isEmpty();
    assertThat(w3.sweep()).isFalse();
    assertThat(w3.e2eExperiment()).isTrue();

    assertThat(BenchOptions.parse("--workloads", "all,SOAK").workloads()).isEqualTo(EnumSet.allOf(Workload.class));
  }

  @Test
  void quick_setsTheShortSizes_butKeepsTheWorkloadsAndOutputGiven() {
    BenchOptions o = BenchOptions.parse("--quick", "--workloads", "W0,W1", "--output", "q.md", "--kafka-heap", "512m");

    assertThat(o.runs()).isEqualTo(1);
    assertThat(o.backlog()).isEqualTo(20_000);
    assertThat(o.payloadSizes()).containsExactly(256);
    assertThat(o.sweep()).isFalse();
    assertThat(o.workloads()).containsExactlyInAnyOrder(Workload.W0, Workload.W1);
    assertThat(o.output()).isEqualTo(Path.of("q.md"));
    assertThat(o.kafkaHeap()).isEqualTo("512m");
  }

  @Test
  void wrongValues_areRefused_withAMessageThatStartsWithTheOption() {
    assertRefused(List.of("--runs", "0"), "--runs: must be at least 1, was 0");
    assertRefused(List.of("--backlog", "many"), "--backlog: 'many' is not a whole number");
    assertRefused(List.of("--e2e-rate", "-5"), "--e2e-rate: must be positive, was -5");
    assertRefused(List.of("--duplicates", "1,100"), "--duplicates: a duplicate share must be below 100%, was 100");
    assertRefused(List.of("--e2e-loads", "120"), "--e2e-loads: a share of the drain above 100% cannot be sustained, was 120");
    assertRefused(List.of("--kafka-heap", "lots"), "--kafka-heap: must look like 512m or 1g, was lots");
    assertRefused(List.of("--soak-claim-mode", "lock"), "--soak-claim-mode: must be lease or log, was lock");
    assertRefused(List.of("--payloads", ","), "--payloads: needs at least one value");
    assertRefused(List.of("--soak-duration", "5m"), "--soak-window (10m) is longer than --soak-duration (5m)");
    assertRefused(List.of("--update-doc", "no/such/doc.md"), "--update-doc: no such file no/such/doc.md");
    assertRefused(
        List.of("--workloads", "W9"),
        "--workloads: unknown workload 'W9': use W0, W1, W2, W3, W4, W5, W6, GRUELBOX, DEBEZIUM, MODULITH, SOAK or all");
    assertRefused(List.of("--soak-window", "10"), "--soak-window: '10' has no unit; write it like 10s or 10ms (units: ms, s, m, h, d)");
  }

  @Test
  void unknownOptionsAndMissingValues_areRefusedInPicocliWords() {
    assertRefused(List.of("--colour", "red"), "Unknown options: '--colour', 'red'");
    assertRefused(List.of("--runs"), "Missing required parameter for option '--runs' (N)");
  }

  @Test
  void aWrongCommandLine_exitsWith2_namesTheProblem_andPointsToHelp() {
    Run run = Run.of("--workload", "W2");

    assertThat(run.status).isEqualTo(2);
    assertThat(run.out).isEmpty();
    assertThat(run.err)
        .startsWith("bench: Unknown options: '--workload', 'W2'")
        .contains("--workloads")
        .contains("Try 'courier bench --help' for the options.");
  }

  @Test
  void help_listsEveryOptionWithItsDefault_andRunsNothing() {
    Run run = Run.of("--help");

    assertThat(run.status).isZero();
    assertThat(run.err).isEmpty();
    assertThat(run.out)
        .startsWith("Usage: courier bench [OPTIONS]")
        .contains("--workloads=LIST", "(default all;", "--runs=N", "(default 3;", "--duration=D", "(default 10s)")
        .contains("--soak-duration=D", "(default 60m)", "--e2e-loads=LIST", "(default 50,80;", "--update-doc=FILE")
        .contains("--quick", "--million", "--no-sweep", "--no-warmup-round", "--e2e-experiment", "Durations:");
  }

  @Test
  void updateDoc_takesAnExistingFile(@TempDir Path dir) throws Exception {
    Path doc = Files.writeString(dir.resolve("BENCHMARKS.md"), "# results\n");

    assertThat(BenchCommand.parse("--update-doc", doc.toString()).updateDoc).isEqualTo(doc);
    assertThat(BenchOptions.parse("--update-doc", doc.toString()).output()).isEqualTo(Path.of("bench-results.md"));
  }

  private static void assertRefused(List<String> args, String message) {
    assertThatThrownBy(() -> BenchOptions.parse(args.toArray(String[]::new)))
        .as("%s", args)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message);
  }

  private record Run(int status, String out, String err) {
    static Run of(String... args) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int status =
          BenchMain.run(
              args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
      return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
  }
}
