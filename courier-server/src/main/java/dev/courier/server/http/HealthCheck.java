package dev.courier.server.http;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * One named part of readiness, such as the outbox's age or the dead letters' growth. A check must
 * not throw for a condition it can describe; if it throws anyway, readiness reports it as down with
 * the exception's message.
 */
public interface HealthCheck {

  /** The check's name in the readiness report, such as {@code outbox}. */
  String name();

  /** Evaluates the check now. */
  Result check();

  /** Whether a check passes. */
  enum Status {
    UP,
    DOWN
  }

  /**
   * A check's outcome.
   *
   * @param status up or down
   * @param reason one sentence for the operator: what was measured against which limit
   */
  record Result(Status status, String reason) {
    public Result {
      Objects.requireNonNull(status, "status");
      Objects.requireNonNull(reason, "reason");
    }

    public static Result up(String reason) {
      return new Result(Status.UP, reason);
    }

    public static Result down(String reason) {
      return new Result(Status.DOWN, reason);
    }

    public boolean isUp() {
      return status == Status.UP;
    }
  }

  /** A check from a name and a function. */
  static HealthCheck of(String name, Supplier<Result> check) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(check, "check");
    return new HealthCheck() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Result check() {
        return check.get();
      }
    };
  }
}
