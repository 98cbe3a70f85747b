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
    // --update-doc FILE is handled here: it rewrites the results section of an existing document
    java.util.List<String> rest = new java.util.ArrayList<>();
    Path updateDoc = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--update-doc")) {
        if (i + 1 >= args.length) {
          System.err.println("bench: --update-doc needs a file");
          System.exit(2);
          return;
        }
        updateDoc = Path.of(args[++i]);
      } else {
        rest.add(args[i]);
      }
    }
    if (updateDoc != null && !Files.isRegularFile(updateDoc)) {
      System.err.println("bench: --update-doc: no such file " + updateDoc);
      System.exit(2);
      return;
    }
    BenchOptions options;
    try {
      options = BenchOptions.parse(rest.toArray(String[]::new));
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
      if (updateDoc != null) {
        String doc = Files.readString(updateDoc, StandardCharsets.UTF_8);
        Files.writeString(updateDoc, BenchReport.replaceResults(doc, report.toDocSection()), StandardCharsets.UTF_8);
        System.out.println("bench: results section of " + updateDoc + " rewritten");
      }
    } catch (IOException | IllegalArgumentException e) {
      System.err.println("bench: cannot write the report: " + e);
      System.out.print(md);
      System.exit(1);
    }
    // The Kafka clients and the broker's reaper leave non-daemon threads behind.
    System.exit(0);
  }
}
