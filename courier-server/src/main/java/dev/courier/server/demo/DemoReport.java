package dev.courier.server.demo;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/**
 * The outcome of a demo run and the invariants it checks:
 *
 * <ul>
 *   <li><b>no loss</b>: every committed order has its inventory reservation and its e-mail;
 *   <li><b>no phantom</b>: nothing (outbox row, record on the topic, effect) exists for a
 *       rolled-back order;
 *   <li><b>no double effect</b>: at most one reservation and one e-mail per order, however many
 *       times its event was delivered.
 * </ul>
 *
 * @param drained whether every event was applied before the drain timeout
 */
public record DemoReport(
    String runId,
    Duration loadDuration,
    Duration warmUp,
    double ratePerSecond,
    long ordersCommitted,
    long ordersRolledBack,
    long checkoutFailures,
    long eventsPublished,
    long confirmationsDropped,
    long outboxPending,
    long outboxDead,
    long outboxPhantoms,
    String topic,
    long topicRecords,
    long topicDistinctEventIds,
    long topicPhantoms,
    List<ConsumerResult> consumers,
    Histogram latencyMicros,
    Histogram relayLagMicros,
    boolean drained) {

  /**
   * One consumer's results.
   *
   * @param applied events whose effect committed (rows in the ledger)
   * @param effects rows in the consumer's effect table
   * @param dedupeHits deliveries recognised as duplicates
   * @param crashes crashes injected between DB commit and offset commit
   * @param maxEffectsPerOrder the most effect rows of one order (must be at most 1)
   * @param lost committed orders without an effect
   * @param phantoms effects of orders that do not exist
   * @param deadLetters events this consumer dead-lettered
   */
  public record ConsumerResult(
      String name,
      long applied,
      long effects,
      long dedupeHits,
      long crashes,
      long maxEffectsPerOrder,
      long lost,
      long phantoms,
      long deadLetters) {}

  public long duplicatesDelivered() {
    return topicRecords - topicDistinctEventIds;
  }

  public long lost() {
    return consumers.stream().mapToLong(ConsumerResult::lost).sum();
  }

  public long phantoms() {
    return outboxPhantoms
        + topicPhantoms
        + consumers.stream().mapToLong(ConsumerResult::phantoms).sum();
  }

  public long maxEffectsPerOrder() {
    return consumers.stream().mapToLong(ConsumerResult::maxEffectsPerOrder).max().orElse(0);
  }

  public boolean noLoss() {
    return lost() == 0;
  }

  public boolean noPhantom() {
    return phantoms() == 0;
  }

  public boolean noDoubleEffect() {
    return maxEffectsPerOrder() <= 1;
  }

  public boolean invariantsHold() {
    return noLoss() && noPhantom() && noDoubleEffect();
  }

  /** Writes the report table. */
  public void print(PrintWriter out) {
    out.println();
    out.println("Courier demo report, run " + runId);
    out.println("=".repeat(72));
    row(
        out,
        "load",
        String.format(Locale.ROOT, "%s at %.1f orders/s", human(loadDuration), ratePerSecond),
        warmUp.isZero() ? "" : "after a " + human(warmUp) + " warm-up; all counts include it");
    row(out, "orders committed", n(ordersCommitted), "");
    row(
        out,
        "orders rolled back",
        n(ordersRolledBack),
        "after appending their event; it must never appear");
    if (checkoutFailures > 0) {
      row(
          out,
          "checkout transactions failed",
          n(checkoutFailures),
          "rolled back by an error; see the log");
    }
    row(
        out,
        "events published (relay confirmed)",
        n(eventsPublished),
        "dropped confirmations not counted");
    row(
        out,
        "confirmations dropped (injected)",
        n(confirmationsDropped),
        "the relay published these again");
    row(out, "outbox pending / dead", n(outboxPending) + " / " + n(outboxDead), "");
    row(out, "records on topic '" + topic + "'", n(topicRecords), "");
    row(out, "distinct event ids on the topic", n(topicDistinctEventIds), "");
    row(out, "duplicates delivered", n(duplicatesDelivered()), "records - distinct ids");
    out.println();
    StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "  %-36s", ""));
    for (ConsumerResult c : consumers) {
      header.append(String.format(Locale.ROOT, "%12s", c.name()));
    }
    out.println(header);
    consumerRow(out, "effects applied", c -> c.effects());
    consumerRow(out, "dedupe hits", c -> c.dedupeHits());
    consumerRow(out, "crashes injected", c -> c.crashes());
    consumerRow(out, "effects per order (max, must be 1)", c -> c.maxEffectsPerOrder());
    consumerRow(out, "dead letters", c -> c.deadLetters());
    consumerRow(out, "lost (must be 0)", c -> c.lost());
    consumerRow(out, "phantom (must be 0)", c -> c.phantoms());
    out.println();
    if (!warmUp.isZero()) {
      out.println("  latency after the warm-up:");
    }
    latency(out, "end-to-end latency, event created -> effect committed", latencyMicros, "effects");
    latency(
        out, "  of which relay: event created -> broker confirmed", relayLagMicros, "publishes");
    out.println();
    if (!drained) {
      out.println("  WARNING: not every event was applied before the drain timeout (see the log).");
    }
    verdict(
        out,
        "no loss",
        noLoss(),
        n(lost()) + " committed order effect(s) missing",
        "every committed order has its reservation and its e-mail");
    verdict(
        out,
        "no phantom",
        noPhantom(),
        n(phantoms())
            + " trace(s) of rolled-back orders (outbox "
            + outboxPhantoms
            + ", topic "
            + topicPhantoms
            + ", effects "
            + (phantoms() - outboxPhantoms - topicPhantoms)
            + ")",
        "nothing exists for the " + n(ordersRolledBack) + " rolled-back orders");
    verdict(
        out,
        "no double effect",
        noDoubleEffect(),
        "an order has " + maxEffectsPerOrder() + " effects in one consumer",
        "at most one reservation and one e-mail per order despite "
            + count(duplicatesDelivered(), "duplicate record")
            + ", "
            + count(
                consumers.stream().mapToLong(ConsumerResult::crashes).sum(),
                "consumer crash",
                "consumer crashes")
            + " and "
            + count(
                consumers.stream().mapToLong(ConsumerResult::dedupeHits).sum(),
                "deduplicated redelivery",
                "deduplicated redeliveries"));
    out.println();
    out.printf(
        Locale.ROOT,
        "RESULT %s lost=%d phantom=%d max_effects_per_order=%d orders_committed=%d"
            + " duplicates_delivered=%d dedupe_hits=%d%n",
        invariantsHold() ? "PASS" : "FAIL",
        lost(),
        phantoms(),
        maxEffectsPerOrder(),
        ordersCommitted,
        duplicatesDelivered(),
        consumers.stream().mapToLong(ConsumerResult::dedupeHits).sum());
    out.flush();
  }

  private static void latency(PrintWriter out, String label, Histogram h, String unit) {
    if (h.getTotalCount() == 0) {
      out.printf(Locale.ROOT, "  %s: none recorded%n", label);
      return;
    }
    out.printf(
        Locale.ROOT,
        "  %-52s p50 %9s   p99 %9s   max %9s   (%s %s)%n",
        label,
        ms(h.getValueAtPercentile(50)),
        ms(h.getValueAtPercentile(99)),
        ms(h.getMaxValue()),
        n(h.getTotalCount()),
        unit);
  }

  private void consumerRow(
      PrintWriter out, String label, java.util.function.ToLongFunction<ConsumerResult> f) {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "  %-36s", label));
    for (ConsumerResult c : consumers) {
      sb.append(String.format(Locale.ROOT, "%12s", n(f.applyAsLong(c))));
    }
    out.println(sb);
  }

  private static void row(PrintWriter out, String label, String value, String note) {
    out.println(String.format(Locale.ROOT, "  %-36s%12s   %s", label, value, note).stripTrailing());
  }

  private static void verdict(
      PrintWriter out, String name, boolean ok, String failure, String success) {
    out.printf(Locale.ROOT, "  %-18s %-4s %s%n", name, ok ? "OK" : "FAIL", ok ? success : failure);
  }

  private static String count(long v, String one) {
    return count(v, one, one + "s");
  }

  private static String count(long v, String one, String many) {
    return n(v) + " " + (v == 1 ? one : many);
  }

  static String n(long v) {
    return String.format(Locale.ROOT, "%,d", v);
  }

  static String ms(long micros) {
    return micros >= 10_000
        ? String.format(Locale.ROOT, "%,d ms", Math.round(micros / 1000.0))
        : String.format(Locale.ROOT, "%.1f ms", micros / 1000.0);
  }

  static String human(Duration d) {
    long s = d.toSeconds();
    return s >= 120
        ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60)
        : String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
  }
}
