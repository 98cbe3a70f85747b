package dev.courier.server.demo;

import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Fault injection for the demo: a transport that loses a fraction of the broker's confirmations on
 * the way back. The real transport publishes and the broker stores the event; then, for a random
 * fraction of the confirmed events, the relay is told the publish failed (retriable), exactly what
 * a network timeout after the broker's write looks like. The relay publishes those events again, so
 * they reach the broker twice: Kafka and RabbitMQ store a second copy, which the consumers must
 * deduplicate; JetStream recognises the {@code Nats-Msg-Id} inside its duplicate window and stores
 * one. Subscriptions pass through untouched.
 */
final class DroppedConfirmationTransport implements Transport {
  private final Transport delegate;
  private final double dropRate;
  private final DemoStats stats;

  DroppedConfirmationTransport(Transport delegate, double dropRate, DemoStats stats) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    this.dropRate = dropRate;
    this.stats = stats;
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    List<PublishResult> results = delegate.publish(batch, timeout);
    Instant confirmedAt = Instant.now();
    Map<UUID, Event> events = new HashMap<>();
    for (Event e : batch) {
      events.put(e.id(), e);
    }
    for (PublishResult r : results) {
      if (r instanceof PublishResult.Confirmed c && events.containsKey(c.eventId())) {
        stats.recordRelayLag(
            Duration.between(events.get(c.eventId()).createdAt(), confirmedAt).toNanos() / 1000);
      }
    }
    if (dropRate <= 0) {
      return results;
    }
    ThreadLocalRandom random = ThreadLocalRandom.current();
    List<PublishResult> out = new ArrayList<>(results.size());
    for (PublishResult r : results) {
      if (r instanceof PublishResult.Confirmed c && random.nextDouble() < dropRate) {
        stats.confirmationsDropped.increment();
        out.add(
            new PublishResult.Failed(
                c.eventId(),
                new RetriableCourierException(
                    "confirmation dropped by the demo's fault injection after the broker stored the"
                        + " event (stored at "
                        + c.position()
                        + ")",
                    c.eventId(),
                    events.containsKey(c.eventId()) ? events.get(c.eventId()).destination() : null,
                    null),
                true));
      } else {
        out.add(r);
      }
    }
    return out;
  }

  @Override
  public Subscription subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    return delegate.subscribe(spec, processor);
  }

  @Override
  public void close() {
    delegate.close();
  }
}
