package dev.courier.bench;

import java.util.Objects;

/**
 * One number measured in one run.
 *
 * @param workload the workload that measured it
 * @param id a stable identifier, the same in every run, by which runs are grouped
 * @param label what it is, for the report
 * @param unit the unit, or {@code "ratio"} for a ratio to a ceiling measured in the same run
 * @param value the measured value
 * @param goal the goal it is held to, or {@code null} for a figure given as context
 */
public record Figure(Workload workload, String id, String label, String unit, double value, Goal goal) {

  public static final String RATIO = "ratio";

  public Figure {
    Objects.requireNonNull(workload, "workload");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(label, "label");
    Objects.requireNonNull(unit, "unit");
  }

  public boolean isRatio() {
    return RATIO.equals(unit);
  }
}
