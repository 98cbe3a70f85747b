package dev.courier.admin;

/**
 * The rate a replay spreads its events at: 0 for no limit, else at least {@value #MIN_PER_SECOND}
 * event per second. A lower rate is refused as a likely mistake: 10,000 events at 0.001 per second
 * would sit in the outbox, unpublished, for almost four months.
 */
public final class ReplayRate {
  /** The lowest rate a replay accepts, in events per second (0 means no limit). */
  public static final double MIN_PER_SECOND = 1.0;

  private ReplayRate() {}

  /**
   * Returns {@code perSecond} if it is 0 or a finite number of at least {@value #MIN_PER_SECOND}.
   *
   * @throws InvalidRequestException naming {@code rate} otherwise
   */
  public static double check(double perSecond) {
    if (perSecond == 0) {
      return 0;
    }
    if (Double.isNaN(perSecond) || Double.isInfinite(perSecond) || perSecond < MIN_PER_SECOND) {
      throw new InvalidRequestException(
          "rate",
          "must be 0 (no limit) or at least " + (long) MIN_PER_SECOND + " event per second, was " + perSecond);
    }
    return perSecond;
  }
}
