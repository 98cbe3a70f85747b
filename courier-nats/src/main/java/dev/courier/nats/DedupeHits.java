package dev.courier.nats;

import dev.courier.Event;
import dev.courier.internal.EventLog;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publishes a stream's duplicate window caught: each is counted in {@value
 * JetStreamTransport#BROKER_DEDUPE_HITS} (tagged with the transport and the destination) and logged
 * with its event id. Thread-safe.
 */
final class DedupeHits {
  private static final Logger log = LoggerFactory.getLogger(JetStreamTransport.class);

  private final MeterRegistry registry;
  private final String transport;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final AtomicLong total = new AtomicLong();

  DedupeHits(MeterRegistry registry, String transport) {
    this.registry = registry;
    this.transport = transport;
  }

  /** The publishes caught so far. */
  long total() {
    return total.get();
  }

  /** Counts and logs one publish of {@code e} the stream already held at {@code position}. */
  @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
  void record(Event e, String position) {
    total.incrementAndGet();
    counters
        .computeIfAbsent(
            e.destination(),
            d ->
                Counter.builder(JetStreamTransport.BROKER_DEDUPE_HITS)
                    .description(
                        "Published events the broker recognised as duplicates inside its dedupe"
                            + " window")
                    .baseUnit("events")
                    .tag("transport", transport)
                    .tag("destination", d)
                    .register(registry))
        .increment();
    try (EventLog ignored = EventLog.of(e)) {
      log.info(
          "JetStream deduplicated the publish: the stream already holds the event ({})", position);
    }
  }
}
