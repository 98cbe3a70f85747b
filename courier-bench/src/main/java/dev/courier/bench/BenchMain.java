package dev.courier.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The benchmark's command line: runs the workloads and writes the report as Markdown. {@link
 * BenchCommand} has the options ({@code --help} lists them); {@code scripts/bench.sh} builds the
 * module and runs this.
 *
 * <p>Exit status: 0 when the report was written, 1 when a measurement or the report failed, 2 for a
 * wrong command line.
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) {
    // The Kafka clients and the broker's reaper leave non-daemon threads behind: exit explicitly.
    System.exit(run(args, System.out, System.err));
  }

  /** Runs one command line and returns its exit status, without exiting the JVM. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    BenchCommand command;
    BenchOptions options;
    try {
      command = BenchCommand.parse(args);
      if (command.help) {
        command.commandLine().usage(out);
        return 0;
      }
      options = command.options();
    } catch (ParameterException e) {
      err.println("bench: " + BenchCommand.message(e));
      UnmatchedArgumentException.printSuggestions(e, err);
      err.println("Try 'courier bench --help' for the options.");
      return 2;
    }
    if (options.runs() < 3) {
      err.println("bench: note: --runs " + options.runs() + " is below the 3 runs a published figure needs");
    }
    BenchReport report;
    try {
      report = new Bench(options).run();
    } catch (RuntimeException e) {
      err.println("bench: FAILED: " + e);
      e.printStackTrace(err);
      return 1;
    }
    String md = report.toMarkdown();
    Path updateDoc = command.updateDoc;
    try {
      Path target = options.output().toAbsolutePath();
      if (target.getParent() != null) {
        Files.createDirectories(target.getParent());
      }
      Files.writeString(target, md, StandardCharsets.UTF_8);
      out.print(md);
      out.println();
      out.println("bench: report written to " + target);
      if (updateDoc != null) {
        String doc = Files.readString(updateDoc, StandardCharsets.UTF_8);
        Files.writeString(updateDoc, BenchReport.replaceResults(doc, report.toDocSection()), StandardCharsets.UTF_8);
        out.println("bench: results section of " + updateDoc + " rewritten");
      }
    } catch (IOException | IllegalArgumentException e) {
      err.println("bench: cannot write the report: " + e);
      out.print(md);
      return 1;
    }
    return 0;
  }
}
