package dev.courier.server.http;

import dev.courier.server.config.Masking;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Readiness: ready when every check is up. Checks run one after the other, on the caller's thread,
 * each time readiness is asked for; a check that throws counts as down, with the exception's
 * message (passwords in URLs masked) as its reason.
 */
public final class Readiness {
  private final List<HealthCheck> checks;

  public Readiness(List<HealthCheck> checks) {
    this.checks = List.copyOf(checks);
  }

  /** Readiness with nothing to check: always ready. */
  public static Readiness alwaysReady() {
    return new Readiness(List.of());
  }

  /** The checks, in report order. */
  public List<HealthCheck> checks() {
    return checks;
  }

  /** Runs every check. */
  public Report evaluate() {
    Map<String, HealthCheck.Result> results = new LinkedHashMap<>();
    for (HealthCheck c : checks) {
      HealthCheck.Result r;
      try {
        r = c.check();
      } catch (RuntimeException e) {
        r = HealthCheck.Result.down("the check failed: " + Masking.url(String.valueOf(e.getMessage())));
      }
      results.put(c.name(), r);
    }
    return new Report(results);
  }

  /**
   * The outcome of every check.
   *
   * @param checks each check's result by name, in report order
   */
  public record Report(Map<String, HealthCheck.Result> checks) {
    public Report {
      checks = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(checks));
    }

    /** Up when every check is up. */
    public HealthCheck.Status status() {
      return checks.values().stream().allMatch(HealthCheck.Result::isUp)
          ? HealthCheck.Status.UP
          : HealthCheck.Status.DOWN;
    }
  }
}
