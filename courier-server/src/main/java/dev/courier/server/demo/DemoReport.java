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
 *   <li><b>no phantom</b>: nothing (outbox row, message on the wire, effect) exists for a
 *       rolled-back order;
 *   <li><b>no double effect</b>: at most one reservation and one e-mail per order, however many
 *       times its event was delivered.
 * </ul>
 *
 * <p>It also counts duplicates, in a way that means the same on every transport: a consumer's
 * <em>duplicate deliveries</em> are the deliveries it was handed ({@link
 * dev.courier.spi.Subscription#received()}, over all its instances) less the distinct events it
 * settled (applied, or dead-lettered). They come from republishes after dropped confirmations (on
 * brokers that store them twice) and from redeliveries after crashes; the processed-events ledger
 * recognises each one (a dedupe hit), unless it was a retry. Where the broker can be read back like
 * a Kafka topic, {@link Wire} adds what it holds.
 *
 * @param wire what the broker side shows, and the transport's caveats
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
    Wire wire,
    List<ConsumerResult> consumers,
    Histogram latencyMicros,
    Histogram relayLagMicros,
    boolean drained) {

  /** The width prose in the report is wrapped to. */
  private static final int WIDTH = 100;

  /**
   * The broker side of the run.
   *
   * @param transport {@code kafka}, {@code rabbitmq} or {@code nats}
   * @param destination where the events went, for example {@code topic 'orders'}
   * @param facts what the broker holds or did, counted after the run, one report row each
   * @param phantoms messages of rolled-back orders seen on the wire (must be 0)
   * @param phantomsCounted how {@code phantoms} was counted, for the report
   * @param caveats what this transport does not promise, or does differently
   */
  public record Wire(
      String transport,
      String destination,
      List<Fact> facts,
      long phantoms,
      String phantomsCounted,
      List<String> caveats) {
    public Wire {
      facts = List.copyOf(facts);
      caveats = List.copyOf(caveats);
    }
  }

  /** One row of the report: a label, a value and a note saying what it means. */
  public record Fact(String label, String value, String note) {}

  /**
   * One consumer's results.
   *
   * @param received deliveries handed to the consumer, duplicates included
   * @param applied events whose effect committed (rows in the ledger)
   * @param effects rows in the consumer's effect table
   * @param dedupeHits deliveries recognised as duplicates
   * @param crashes crashes injected between the database commit and the broker acknowledgement
   * @param maxEffectsPerOrder the most effect rows of one order (must be at most 1)
   * @param lost committed orders without an effect
   * @param phantoms effects of orders that do not exist
   * @param deadLetters events this consumer dead-lettered
   */
  public record ConsumerResult(
      String name,
      long received,
      long applied,
      long effects,
      long dedupeHits,
      long crashes,
      long maxEffectsPerOrder,
      long lost,
      long phantoms,
      long deadLetters) {

    /** Deliveries beyond the first of each event: received less the distinct events settled. */
    public long duplicateDeliveries() {
      return received - applied - deadLetters;
    }
  }

  /** Duplicate deliveries over all consumers; see the class description. */
  public long duplicatesDelivered() {
    return consumers.stream().mapToLong(ConsumerResult::duplicateDeliveries).sum();
  }

  public long dedupeHits() {
    return consumers.stream().mapToLong(ConsumerResult::dedupeHits).sum();
  }

  public long crashes() {
    return consumers.stream().mapToLong(ConsumerResult::crashes).sum();
  }

  public long lost() {
    return consumers.stream().mapToLong(ConsumerResult::lost).sum();
  }

  public long phantoms() {
    return outboxPhantoms
        + wire.phantoms()
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
    out.println("Courier demo report, run " + runId + ", transport " + wire.transport());
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
        "to " + wire.destination() + "; dropped confirmations not counted");
    row(
        out,
        "confirmations dropped (injected)",
        n(confirmationsDropped),
        "the relay published these again");
    row(out, "outbox pending / dead", n(outboxPending) + " / " + n(outboxDead), "");
    for (Fact f : wire.facts()) {
      row(out, f.label(), f.value(), f.note());
    }
    row(
        out,
        "duplicates delivered",
        n(duplicatesDelivered()),
        "to the consumers: deliveries - distinct events settled");
    out.println();
    StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "  %-36s", ""));
    for (ConsumerResult c : consumers) {
      header.append(String.format(Locale.ROOT, "%12s", c.name()));
    }
    out.println(header);
    consumerRow(out, "deliveries received", ConsumerResult::received);
    consumerRow(out, "duplicate deliveries", ConsumerResult::duplicateDeliveries);
    consumerRow(out, "effects applied", ConsumerResult::effects);
    consumerRow(out, "dedupe hits", ConsumerResult::dedupeHits);
    consumerRow(out, "crashes injected", ConsumerResult::crashes);
    consumerRow(out, "effects per order (max, must be 1)", ConsumerResult::maxEffectsPerOrder);
    consumerRow(out, "dead letters", ConsumerResult::deadLetters);
    consumerRow(out, "lost (must be 0)", ConsumerResult::lost);
    consumerRow(out, "phantom (must be 0)", ConsumerResult::phantoms);
    wrap(
        out,
        "  ",
        "  ",
        "duplicate deliveries = deliveries received by every instance of the consumer, less the"
            + " distinct events it settled (applied or dead-lettered). The ledger recognises each"
            + " one as a duplicate (a dedupe hit), unless it was a retry after a failure.");
    out.println();
    if (!warmUp.isZero()) {
      out.println("  latency after the warm-up:");
    }
    latency(out, "end-to-end latency, event created -> effect committed", latencyMicros, "effects");
    latency(
        out, "  of which relay: event created -> broker confirmed", relayLagMicros, "publishes");
    out.println();
    if (!wire.caveats().isEmpty()) {
      out.println("  On " + wire.transport() + ":");
      for (String caveat : wire.caveats()) {
        wrap(out, "  - ", "    ", caveat);
      }
      out.println();
    }
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
            + ", wire "
            + wire.phantoms()
            + ", effects "
            + (phantoms() - outboxPhantoms - wire.phantoms())
            + ")",
        "nothing exists for the "
            + n(ordersRolledBack)
            + " rolled-back orders (wire: "
            + wire.phantomsCounted()
            + ")");
    verdict(
        out,
        "no double effect",
        noDoubleEffect(),
        "an order has " + maxEffectsPerOrder() + " effects in one consumer",
        "at most one reservation and one e-mail per order despite "
            + count(duplicatesDelivered(), "duplicate delivery", "duplicate deliveries")
            + ", "
            + count(crashes(), "consumer crash", "consumer crashes")
            + " and "
            + count(dedupeHits(), "deduplicated redelivery", "deduplicated redeliveries"));
    out.println();
    out.printf(
        Locale.ROOT,
        "RESULT %s lost=%d phantom=%d max_effects_per_order=%d orders_committed=%d"
            + " duplicates_delivered=%d dedupe_hits=%d crashes=%d transport=%s%n",
        invariantsHold() ? "PASS" : "FAIL",
        lost(),
        phantoms(),
        maxEffectsPerOrder(),
        ordersCommitted,
        duplicatesDelivered(),
        dedupeHits(),
        crashes(),
        wire.transport());
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

  /** Prints {@code text} in lines of at most {@value #WIDTH} characters, breaking at spaces. */
  private static void wrap(PrintWriter out, String first, String rest, String text) {
    StringBuilder line = new StringBuilder(first);
    int start = line.length();
    for (String word : text.split(" ")) {
      if (line.length() > start && line.length() + 1 + word.length() > WIDTH) {
        out.println(line);
        line.setLength(0);
        line.append(rest);
        start = line.length();
      }
      if (line.length() > start) {
        line.append(' ');
      }
      line.append(word);
    }
    out.println(line);
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
