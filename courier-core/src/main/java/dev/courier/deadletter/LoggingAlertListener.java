package dev.courier.deadletter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** {@link AlertListener#logging()}. */
final class LoggingAlertListener implements AlertListener {
  static final LoggingAlertListener INSTANCE = new LoggingAlertListener();

  private static final Logger log = LoggerFactory.getLogger(AlertListener.class);

  private LoggingAlertListener() {}

  @Override
  public void onDeadLetterGrowth(DeadLetterGrowth g) {
    try (var ignored = fields("dead_letter_growth", g)) {
      log.error("dead letters growing: {}", g.describe());
    }
  }

  @Override
  public void onDeadLetterGrowthResolved(DeadLetterGrowth g) {
    try (var ignored = fields("dead_letter_growth_resolved", g)) {
      log.info("dead letters no longer growing: {}", g.describe());
    }
  }

  private static Fields fields(String alert, DeadLetterGrowth g) {
    MDC.put("alert", alert);
    MDC.put("dead_letter_queue", g.queueName());
    MDC.put("dead_letters", Long.toString(g.now()));
    MDC.put("dead_letters_added", Long.toString(g.grownBy()));
    return new Fields();
  }

  /** Removes the fields again; the monitor's thread has no other MDC fields to restore. */
  private static final class Fields implements AutoCloseable {
    @Override
    public void close() {
      MDC.remove("alert");
      MDC.remove("dead_letter_queue");
      MDC.remove("dead_letters");
      MDC.remove("dead_letters_added");
    }
  }
}
