package dev.courier.retry;

import dev.courier.ConfigurationException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * How often and how far apart to retry: exponential backoff with full jitter, bounded by a number
 * of attempts. Immutable and thread-safe; build it once and share it.
 *
 * <p>The delay before attempt {@code n + 1} (after {@code n} failed attempts, {@code n >= 1}) is
 * drawn uniformly from {@code [0, min(maxDelay, initialDelay * multiplier^(n-1))]} ("full
 * jitter"), so that many clients failing together do not retry together. With jitter turned off it
 * is exactly the upper bound. After {@link #maxAttempts()} failed attempts the work is parked as
 * dead.
 */
public final class RetryPolicy {
  private final int maxAttempts;
  private final Duration initialDelay;
  private final Duration maxDelay;
  private final double multiplier;
  private final boolean jitter;

  private RetryPolicy(Builder b) {
    this.maxAttempts = b.maxAttempts;
    this.initialDelay = b.initialDelay;
    this.maxDelay = b.maxDelay;
    this.multiplier = b.multiplier;
    this.jitter = b.jitter;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** 10 attempts, 1 s doubling to at most 5 min, full jitter: about 17 minutes of retrying. */
  public static RetryPolicy defaultPolicy() {
    return builder().build();
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  public Duration initialDelay() {
    return initialDelay;
  }

  public Duration maxDelay() {
    return maxDelay;
  }

  public double multiplier() {
    return multiplier;
  }

  public boolean jitter() {
    return jitter;
  }

  /** Whether another attempt is allowed after {@code failedAttempts} failures. */
  public boolean canRetry(int failedAttempts) {
    return failedAttempts < maxAttempts;
  }

  /** The upper bound of the delay after {@code failedAttempts} failures (no jitter). */
  public Duration ceiling(int failedAttempts) {
    int n = Math.max(1, failedAttempts);
    double millis = initialDelay.toMillis() * Math.pow(multiplier, n - 1);
    long capped = (long) Math.min(maxDelay.toMillis(), millis);
    return Duration.ofMillis(Math.max(capped, 0));
  }

  /** The delay after {@code failedAttempts} failures, jittered when jitter is on. */
  public Duration delay(int failedAttempts) {
    return delay(failedAttempts, () -> ThreadLocalRandom.current().nextDouble());
  }

  /** As {@link #delay(int)}, drawing jitter from {@code random} (values in [0, 1)), for tests. */
  public Duration delay(int failedAttempts, DoubleSupplier random) {
    Duration ceiling = ceiling(failedAttempts);
    if (!jitter) {
      return ceiling;
    }
    return Duration.ofMillis((long) (ceiling.toMillis() * random.getAsDouble()));
  }

  /**
   * The longest time from the first attempt to the last under this policy (the sum of the delay
   * ceilings). Broker dedupe windows must cover it.
   */
  public Duration horizon() {
    Duration total = Duration.ZERO;
    for (int i = 1; i < maxAttempts; i++) {
      total = total.plus(ceiling(i));
    }
    return total;
  }

  @Override
  public String toString() {
    return "RetryPolicy[maxAttempts=" + maxAttempts + ", initialDelay=" + initialDelay
        + ", maxDelay=" + maxDelay + ", multiplier=" + multiplier + ", jitter=" + jitter + "]";
  }

  /** Builds a {@link RetryPolicy}; each setting is checked at {@link #build()}. */
  public static final class Builder {
    private int maxAttempts = 10;
    private Duration initialDelay = Duration.ofSeconds(1);
    private Duration maxDelay = Duration.ofMinutes(5);
    private double multiplier = 2.0;
    private boolean jitter = true;

    private Builder() {}

    /** Attempts in all, the first included (default 10). */
    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = maxAttempts;
      return this;
    }

    public Builder initialDelay(Duration initialDelay) {
      this.initialDelay = initialDelay;
      return this;
    }

    public Builder maxDelay(Duration maxDelay) {
      this.maxDelay = maxDelay;
      return this;
    }

    public Builder multiplier(double multiplier) {
      this.multiplier = multiplier;
      return this;
    }

    /** Full jitter on (default) or off. Off only for tests and demos that need exact delays. */
    public Builder jitter(boolean jitter) {
      this.jitter = jitter;
      return this;
    }

    public RetryPolicy build() {
      if (maxAttempts < 1) {
        throw new ConfigurationException("maxAttempts", "must be at least 1, was " + maxAttempts);
      }
      if (initialDelay == null || initialDelay.isNegative()) {
        throw new ConfigurationException("initialDelay", "must be zero or positive, was " + initialDelay);
      }
      if (maxDelay == null || maxDelay.compareTo(initialDelay) < 0) {
        throw new ConfigurationException(
            "maxDelay", "must be >= initialDelay (" + initialDelay + "), was " + maxDelay);
      }
      if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
        throw new ConfigurationException("multiplier", "must be a finite number >= 1, was " + multiplier);
      }
      return new RetryPolicy(this);
    }
  }
}
