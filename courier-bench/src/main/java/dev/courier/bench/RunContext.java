package dev.courier.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One run of the selected workloads: collects its figures, and measures a ceiling once when several
 * workloads divide by it (W0's business-only commit rate is also W1's "no outbox row" baseline).
 */
final class RunContext {
  private static final Logger log = LoggerFactory.getLogger(RunContext.class);

  private final int run;
  private final BenchOptions options;
  private final BenchEnvironment env;
  private final List<Figure> figures = new ArrayList<>();
  private final Map<String, Object> shared = new HashMap<>();

  RunContext(int run, BenchOptions options, BenchEnvironment env) {
    this.run = run;
    this.options = options;
    this.env = env;
  }

  int run() {
    return run;
  }

  BenchOptions options() {
    return options;
  }

  BenchEnvironment env() {
    return env;
  }

  /** Records a figure of this run. */
  void add(Figure figure) {
    figures.add(figure);
    log.info(
        "run {} {} {} = {} {}",
        run,
        figure.workload(),
        figure.id(),
        String.format(java.util.Locale.ROOT, "%.4f", figure.value()),
        figure.unit());
  }

  void add(Workload w, String id, String label, String unit, double value, Goal goal) {
    add(new Figure(w, id, label, unit, value, goal));
  }

  /** The value measured under {@code key} in this run, measuring it now if it was not yet. */
  @SuppressWarnings("unchecked")
  <T> T shared(String key, Supplier<T> measure) {
    Object v = shared.get(key);
    if (v == null) {
      v = measure.get();
      shared.put(key, v);
    }
    return (T) v;
  }

  List<Figure> figures() {
    return List.copyOf(figures);
  }
}
