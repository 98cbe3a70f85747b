package dev.courier.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The benchmark's command line: runs the workloads and writes the report as Markdown. See {@link
 * BenchOptions#USAGE} for the options; {@code scripts/bench.sh} builds the module and runs this.
 *
 * <p>Exit status: 0 when the report was written, 1 when a measurement or the report failed, 2 for a
 * wrong command line.
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) {
    for (String a : args) {
      if (a.equals("--help") || a.equals("-h")) {
        System.out.print(BenchOptions.USAGE);
        return;
      }
    }
    BenchOptions options;
    try {
      options = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bench: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (options.runs() < 3) {
      System.err.println("bench: note: --runs " + options.runs() + " is below the 3 runs a published figure needs");
    }
    BenchReport report;
    try {
      report = new Bench(options).run();
    } catch (RuntimeException e) {
      System.err.println("bench: FAILED: " + e);
      e.printStackTrace(System.err);
      System.exit(1);
      return;
    }
    String md = report.toMarkdown();
    try {
      Path out = options.output().toAbsolutePath();
      if (out.getParent() != null) {
        Files.createDirectories(out.getParent());
      }
      Files.writeString(out, md, StandardCharsets.UTF_8);
      System.out.print(md);
      System.out.println();
      System.out.println("bench: report written to " + out);
    } catch (IOException e) {
      System.err.println("bench: cannot write the report: " + e);
      System.out.print(md);
      System.exit(1);
    }
    // The Kafka clients and the broker's reaper leave non-daemon threads behind.
    System.exit(0);
  }
}
