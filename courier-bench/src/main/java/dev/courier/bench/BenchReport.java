package dev.courier.bench;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The outcome of a benchmark: every figure of every run, summarised as min / median / max, and
 * what the report must say beside the numbers (command, machine, durability, load).
 *
 * @param options what ran
 * @param startedAt when the first run started
 * @param machine the machine's description
 * @param durability PostgreSQL's settings as SHOW reports them, and Kafka's
 * @param runs each run's figures and load averages
 */
public record BenchReport(
    BenchOptions options,
    Instant startedAt,
    Map<String, String> machine,
    Map<String, String> durability,
    List<Run> runs) {

  /**
   * One run.
   *
   * @param loadBefore the load average when it started
   * @param loadAfter the load average when it ended
   */
  public record Run(int number, String loadBefore, String loadAfter, List<Figure> figures) {}

  /** A figure over all runs. */
  public record Summary(
      Workload workload, String id, String label, String unit, Goal goal, double[] values) {

    /** The values that were measured: a figure that could not be read in a run is NaN there. */
    private double[] known() {
      return Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
    }

    public double min() {
      return Arrays.stream(known()).min().orElse(Double.NaN);
    }

    public double max() {
      return Arrays.stream(known()).max().orElse(Double.NaN);
    }

    /** The median of the runs that measured the figure, NaN if none did. */
    public double median() {
      double[] s = known();
      Arrays.sort(s);
      int n = s.length;
      if (n == 0) {
        return Double.NaN;
      }
      return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** Whether this is one point of a sweep whose best is a figure of its own. */
    public boolean isSweepPoint() {
      return id.contains(".sweep.");
    }

    /** "met", "missed" or "—" for context figures; judged on the median, with the runs that met it. */
    public String verdict() {
      if (goal == null) {
        return "—";
      }
      long met = Arrays.stream(values).filter(goal::isMetBy).count();
      String runs = met + " of " + values.length + " runs";
      return goal.isMetBy(median()) ? "**met** (" + runs + ")" : "**missed** (met in " + runs + ")";
    }
  }

  /** Every figure, grouped across runs, in the order first measured. */
  public List<Summary> summaries() {
    Map<String, List<Figure>> byId = new LinkedHashMap<>();
    for (Run r : runs) {
      for (Figure f : r.figures()) {
        byId.computeIfAbsent(f.workload() + "/" + f.id(), k -> new ArrayList<>()).add(f);
      }
    }
    List<Summary> out = new ArrayList<>();
    for (List<Figure> fs : byId.values()) {
      Figure first = fs.getFirst();
      double[] values = fs.stream().mapToDouble(Figure::value).toArray();
      out.add(new Summary(first.workload(), first.id(), first.label(), first.unit(), first.goal(), values));
    }
    return out;
  }

  /** The report as Markdown: a table per workload, then the per-run values, machine and settings. */
  public String toMarkdown() {
    return markdown(true);
  }

  /**
   * The same without the table of every run's values and without the sweeps' single points (the
   * best of each sweep, and its setting, stay), for the results section of a document; the load
   * average of each run stays.
   */
  public String toDocSection() {
    return markdown(false);
  }

  private String markdown(boolean everyRun) {
    StringBuilder md = new StringBuilder();
    md.append("## Results\n\n");
    md.append("Started ").append(startedAt).append(", ").append(runs.size()).append(" run(s). ");
    md.append("Ratios divide Courier's figure by a ceiling measured in the same run; min / median / max are over the runs.\n\n");
    List<Summary> all = summaries();
    for (Workload w : Workload.values()) {
      List<Summary> mine =
          all.stream().filter(s -> s.workload() == w && (everyRun || !s.isSweepPoint())).toList();
      if (mine.isEmpty()) {
        continue;
      }
      md.append("### ").append(w).append(" — ").append(w.title()).append("\n\n");
      md.append("| figure | unit | min | median | max | goal | verdict |\n");
      md.append("|---|---|---:|---:|---:|---|---|\n");
      for (Summary s : mine) {
        md.append("| ")
            .append(s.label())
            .append(" | ")
            .append(s.unit())
            .append(" | ")
            .append(format(s.min(), s.unit()))
            .append(" | ")
            .append(format(s.median(), s.unit()))
            .append(" | ")
            .append(format(s.max(), s.unit()))
            .append(" | ")
            .append(s.goal() == null ? "—" : s.goal().toString())
            .append(" | ")
            .append(s.verdict())
            .append(" |\n");
      }
      md.append('\n');
    }
    if (everyRun) {
      md.append("### Every run\n\n");
      md.append("| figure |");
      for (Run r : runs) {
        md.append(" run ").append(r.number()).append(" |");
      }
      md.append("\n|---|");
      md.append("---:|".repeat(runs.size()));
      md.append('\n');
      for (Summary s : all) {
        md.append("| ").append(s.workload()).append(' ').append(s.id()).append(" (").append(s.unit()).append(") |");
        for (double v : s.values()) {
          md.append(' ').append(format(v, s.unit())).append(" |");
        }
        md.append('\n');
      }
      md.append("| load average before (1/5/15 min) |");
      for (Run r : runs) {
        md.append(' ').append(r.loadBefore()).append(" |");
      }
      md.append("\n| load average after (1/5/15 min) |");
      for (Run r : runs) {
        md.append(' ').append(r.loadAfter()).append(" |");
      }
      md.append("\n");
    } else {
      md.append("Load average (1/5/15 min) at the start and end of each run:");
      for (Run r : runs) {
        md.append(" run ").append(r.number()).append(' ').append(r.loadBefore()).append(" → ").append(r.loadAfter()).append(';');
      }
      md.setLength(md.length() - 1);
      md.append(". Every run's value of every figure, and every point of the sweeps: the report file (`--output`).\n");
    }
    md.append("\n### Command\n\n```\n");
    md.append("./courier bench ").append(options.commandLine()).append('\n');
    md.append("```\n\n### Machine\n\n");
    machine.forEach((k, v) -> md.append("- ").append(k).append(": ").append(v).append('\n'));
    md.append("\n### Durability settings\n\n");
    durability.forEach((k, v) -> md.append("- ").append(k).append(": ").append(v).append('\n'));
    return md.toString();
  }

  /** Units of things counted, which have no fractions. */
  private static final java.util.Set<String> COUNTS = java.util.Set.of("rows", "runs", "events");

  static String format(double v, String unit) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    if (Figure.RATIO.equals(unit)) {
      return String.format(Locale.ROOT, "%.3f", v);
    }
    if (Math.abs(v) >= 100 || COUNTS.contains(unit)) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }

  /** Marks the start of the part of a document that {@code --update-doc} rewrites. */
  public static final String RESULTS_BEGIN = "<!-- bench:results:begin (written by ./courier bench; edits here are lost) -->";

  /** Marks its end. */
  public static final String RESULTS_END = "<!-- bench:results:end -->";

  /**
   * {@code document} with everything between {@link #RESULTS_BEGIN} and {@link #RESULTS_END}
   * replaced by {@code results}; the text around the markers is kept as it is.
   *
   * @throws IllegalArgumentException if the markers are missing or out of order
   */
  public static String replaceResults(String document, String results) {
    int begin = document.indexOf(RESULTS_BEGIN);
    int end = document.indexOf(RESULTS_END);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(
          "the document has no section between " + RESULTS_BEGIN + " and " + RESULTS_END);
    }
    return document.substring(0, begin + RESULTS_BEGIN.length())
        + "\n\n"
        + results.strip()
        + "\n\n"
        + document.substring(end);
  }
}
