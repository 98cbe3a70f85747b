package dev.courier.server.http;

import dev.courier.CourierException;
import dev.courier.deadletter.DeadLetterGrowth;
import dev.courier.deadletter.DeadLetterMonitor;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxStatus;
import dev.courier.relay.HorizonHolder;
import dev.courier.relay.HorizonLag;
import dev.courier.relay.HorizonMonitor;
import dev.courier.relay.Relay;
import dev.courier.server.config.Masking;
import dev.courier.server.config.Setting;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/** The checks readiness is made of in {@code courier relay} and {@code courier demo}. */
public final class HealthChecks {
  private HealthChecks() {}

  /**
   * {@code outbox}: down while the oldest pending event is older than {@code maxAge}, or while the
   * outbox cannot be read. Queries the database on every evaluation.
   */
  public static HealthCheck outboxAge(OutboxAdmin outbox, Duration maxAge) {
    return HealthCheck.of(
        "outbox",
        () -> {
          OutboxStatus s;
          try {
            s = outbox.status();
          } catch (CourierException e) {
            return HealthCheck.Result.down(
                "cannot read the outbox: " + Masking.url(e.getMessage()));
          }
          Duration age = s.oldestPendingAge();
          String pending = String.format(Locale.ROOT, "%,d pending, %,d dead", s.pending(), s.dead());
          if (age.compareTo(maxAge) > 0) {
            return HealthCheck.Result.down(
                "the oldest pending event is "
                    + human(age)
                    + " old, older than "
                    + Setting.HEALTH_OUTBOX_MAX_AGE.key()
                    + " ("
                    + human(maxAge)
                    + "); "
                    + pending
                    + ". Is a relay running, and can it reach the broker?");
          }
          return HealthCheck.Result.up(
              (s.pending() == 0
                      ? "nothing pending"
                      : "the oldest pending event is " + human(age) + " old")
                  + " (limit "
                  + human(maxAge)
                  + "); "
                  + pending);
        });
  }

  /**
   * {@code dead-letters}: down while a dead-letter queue grows faster than the monitor's threshold,
   * or while dead letters cannot be counted. Reads the monitor's latest status; does not query.
   */
  public static HealthCheck deadLetters(DeadLetterMonitor monitor) {
    return HealthCheck.of(
        "dead-letters",
        () -> {
          Optional<DeadLetterMonitor.Status> last = monitor.lastStatus();
          if (last.isEmpty()) {
            return HealthCheck.Result.up("not counted yet");
          }
          DeadLetterMonitor.Status s = last.get();
          if (s.failure() != null) {
            return HealthCheck.Result.down(
                "cannot count dead letters: " + Masking.url(s.failure()));
          }
          List<DeadLetterGrowth> growing = s.exceeding();
          if (!growing.isEmpty()) {
            return HealthCheck.Result.down(
                "dead letters growing faster than "
                    + monitor.threshold()
                    + " per "
                    + human(monitor.window())
                    + " ("
                    + Setting.HEALTH_DEAD_LETTER_GROWTH.key()
                    + "): "
                    + growing.stream().map(DeadLetterGrowth::describe).collect(Collectors.joining("; ")));
          }
          long parked = s.queues().stream().mapToLong(DeadLetterGrowth::now).sum();
          return HealthCheck.Result.up(
              String.format(
                  Locale.ROOT,
                  "no dead-letter queue grew by more than %d in %s; %,d parked in all",
                  monitor.threshold(),
                  human(monitor.window()),
                  parked));
        });
  }

  /**
   * {@code consumers}: down while a consumer is paused (by an operator, or by itself after too many
   * dead letters), naming each with who paused it and why; its deliveries wait at the broker until
   * it is resumed. Reads the pause table when asked (one small query).
   */
  public static HealthCheck consumerPauses(dev.courier.inbox.ConsumerPauses pauses) {
    return HealthCheck.of(
        "consumers",
        () -> {
          List<dev.courier.inbox.ConsumerPauses.Pause> paused = pauses.list();
          if (paused.isEmpty()) {
            return HealthCheck.Result.up("no consumer is paused");
          }
          return HealthCheck.Result.down(
              "paused, their deliveries waiting at the broker ('courier consumer resume NAME'): "
                  + paused.stream()
                      .map(
                          p ->
                              p.consumer()
                                  + " (since "
                                  + p.pausedAt()
                                  + ", "
                                  + (p.automatic() ? "by itself: " : "by " + p.pausedBy() + ": ")
                                  + p.reason()
                                  + ")")
                      .collect(Collectors.joining("; ")));
        });
  }

  /**
   * {@code horizon}: down while one transaction has held PostgreSQL's transaction horizon back for
   * longer than {@code maxLag} (the reason names it: its pid, application and database, or a
   * prepared transaction's gid), or while the horizon cannot be read. Reads the monitor's latest
   * check; does not query.
   */
  public static HealthCheck horizon(HorizonMonitor monitor, Duration maxLag) {
    return HealthCheck.of(
        "horizon",
        () -> {
          Optional<HorizonMonitor.Status> last = monitor.lastStatus();
          if (last.isEmpty()) {
            return HealthCheck.Result.up("not read yet");
          }
          HorizonMonitor.Status s = last.get();
          if (s.failure() != null) {
            return HealthCheck.Result.down(Masking.url(s.failure()));
          }
          HorizonLag lag = s.lag();
          if (!lag.heldBack()) {
            return HealthCheck.Result.up(
                "no transaction holds the horizon back (limit " + human(maxLag) + ")");
          }
          HorizonHolder holder = lag.holder();
          String who = holder == null ? "an unidentified transaction" : holder.describe();
          String held =
              (holder == null || holder.since() == null ? "at least " : "") + human(lag.age());
          String behind =
              String.format(
                  Locale.ROOT,
                  "%,d transaction id%s behind",
                  lag.xidDistance(),
                  lag.xidDistance() == 1 ? "" : "s");
          if (lag.age().compareTo(maxLag) > 0) {
            return HealthCheck.Result.down(
                who
                    + " has held the transaction horizon back for "
                    + held
                    + ", longer than "
                    + Setting.HEALTH_HORIZON_MAX_LAG.key()
                    + " ("
                    + human(maxLag)
                    + "); "
                    + behind
                    + ". A relay reading below the horizon publishes no newer event until it ends;"
                    + " commit or end it (OPERATIONS.md, CourierHorizonHeldBack)");
          }
          return HealthCheck.Result.up(
              who + " holds the horizon, for " + held + " (limit " + human(maxLag) + "); " + behind);
        });
  }

  /**
   * {@code relay}: down when the relay is not running, or has not completed a pass for longer than
   * {@code maxSilence} (its passes fail, for example because the database is unreachable, or one
   * hangs).
   */
  public static HealthCheck relay(Relay relay, Clock clock, Duration maxSilence) {
    Instant created = clock.instant();
    return HealthCheck.of(
        "relay",
        () -> {
          if (relay.state() != Relay.State.RUNNING) {
            return HealthCheck.Result.down("relay " + relay.id() + " is " + relay.state());
          }
          Instant now = clock.instant();
          Optional<Instant> last = relay.lastCompletedPass();
          Duration silence = Duration.between(last.orElse(created), now);
          if (silence.compareTo(maxSilence) > 0) {
            return HealthCheck.Result.down(
                "relay "
                    + relay.id()
                    + (last.isPresent()
                        ? " has not completed a pass for " + human(silence)
                        : " has not completed a pass since it started " + human(silence) + " ago")
                    + " (limit "
                    + human(maxSilence)
                    + "); its log says why (database unreachable, broker hanging)");
          }
          return HealthCheck.Result.up(
              "relay "
                  + relay.id()
                  + " is running; "
                  + (last.isPresent()
                      ? "last pass " + human(Duration.between(last.get(), now)) + " ago"
                      : "first pass pending"));
        });
  }

  /** A duration for people: {@code 350ms}, {@code 42s}, {@code 6m 1s}, {@code 2h 5m}. */
  static String human(Duration d) {
    if (d.isNegative()) {
      d = Duration.ZERO;
    }
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + "ms";
    }
    long s = d.toSeconds();
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return s / 60 + "m" + (s % 60 == 0 ? "" : " " + s % 60 + "s");
    }
    long m = s / 60;
    return m / 60 + "h" + (m % 60 == 0 ? "" : " " + m % 60 + "m");
  }
}
