package dev.courier.server.demo;

import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/** What the demo counts as it runs. Thread-safe. */
final class DemoStats {
  final LongAdder ordersCommitted = new LongAdder();
  final LongAdder ordersRolledBack = new LongAdder();
  final LongAdder checkoutFailures = new LongAdder();
  final LongAdder confirmationsDropped = new LongAdder();

  /** Ids of the events appended by transactions that rolled back: none may ever be seen. */
  final Set<UUID> rolledBackEventIds = ConcurrentHashMap.newKeySet();

  /** Event creation to committed effect, across both consumers, in microseconds, up to one hour. */
  private final ConcurrentHistogram latencyMicros =
      new ConcurrentHistogram(TimeUnit.HOURS.toMicros(1), 3);

  /**
   * Event creation to the broker's confirmation (the relay's share of the latency), in
   * microseconds.
   */
  private final ConcurrentHistogram relayLagMicros =
      new ConcurrentHistogram(TimeUnit.HOURS.toMicros(1), 3);

  void recordLatency(long micros) {
    record(latencyMicros, micros);
  }

  void recordRelayLag(long micros) {
    record(relayLagMicros, micros);
  }

  private static void record(ConcurrentHistogram h, long micros) {
    h.recordValue(Math.max(0, Math.min(micros, h.getHighestTrackableValue())));
  }

  /** Forgets the latencies recorded so far (those of the warm-up). */
  void resetLatencies() {
    latencyMicros.reset();
    relayLagMicros.reset();
  }

  Histogram latency() {
    return latencyMicros.copy();
  }

  Histogram relayLag() {
    return relayLagMicros.copy();
  }
}
