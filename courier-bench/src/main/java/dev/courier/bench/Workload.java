package dev.courier.bench;

import java.util.Locale;

/** The workloads of the benchmark, in the order they run. */
public enum Workload {
  W0("ceilings: PostgreSQL commit rate and confirmed publish on Kafka, RabbitMQ and NATS JetStream"),
  W1("producer cost: business transactions with the outbox append"),
  W2("relay drain of a backlog through the real relay and each transport"),
  W3("end to end at a constant rate: commit to the consumer's committed effect"),
  W4("idempotent consumer against the same consumer without the ledger"),
  W5("scaling: the relay's drain at a backlog of 10× W2's against one of W2's ÷ 10"),
  W6("wake-up modes: polling, NOTIFY and in-process, latency and the writer's cost"),
  GRUELBOX("peer: gruelbox transaction-outbox on the same PostgreSQL and broker"),
  DEBEZIUM("peer: Debezium embedded engine with the outbox event router, on a PostgreSQL with logical WAL"),
  MODULITH("peer: Spring Modulith's JDBC event publication registry with Kafka externalization"),
  SOAK("soak: the W3 path at a constant rate for an hour, its latency and the tables' state per window");

  /** What {@code all} and the default select: every workload but the hour-long {@link #SOAK}. */
  public static final java.util.Set<Workload> ALL =
      java.util.Collections.unmodifiableSet(java.util.EnumSet.complementOf(java.util.EnumSet.of(SOAK)));

  private final String title;

  Workload(String title) {
    this.title = title;
  }

  /** What the workload measures, for report headings. */
  public String title() {
    return title;
  }

  /**
   * Parses {@code W0}, {@code w3} or {@code all}.
   *
   * @throws IllegalArgumentException for anything else, naming the accepted values
   */
  public static Workload parse(String text) {
    try {
      return valueOf(text.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "unknown workload '" + text + "': use W0, W1, W2, W3, W4, W5, W6, GRUELBOX, DEBEZIUM, MODULITH, SOAK or all", e);
    }
  }
}
