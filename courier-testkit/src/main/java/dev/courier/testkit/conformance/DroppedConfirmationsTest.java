package dev.courier.testkit.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One broker confirmation in 1,000 lost on its way back: the broker stored the event, the relay is
 * told it failed, and publishes it again. Every such copy must be absorbed: by the broker where it
 * deduplicates (JetStream's {@code Nats-Msg-Id} window, reported as a broker duplicate), otherwise
 * by the consumer's ledger (a dedupe hit). Counted from the database: lost 0, duplicated effects 0,
 * and one absorbed copy per dropped confirmation.
 *
 * <p>A transport module adds a subclass that builds its transport and prepares a destination.
 */
public abstract class DroppedConfirmationsTest {
  private static final Logger log = LoggerFactory.getLogger(DroppedConfirmationsTest.class);

  /** Events committed per run. */
  protected static final int EVENTS = 3_000;

  /** Builds the transport under test (connected to the real broker). */
  protected abstract Transport createTransport();

  /**
   * Prepares a destination nobody has used, ready for publishing and for {@code consumer}'s
   * subscription; returns its name.
   */
  protected abstract String newDestination(String hint, String consumer);

  /** Deletes what {@link #newDestination} created; called after the run. */
  protected void deleteDestination(String destination, String consumer) {}

  /** The subscription spec for a destination; override to add transport options. */
  protected SubscriptionSpec spec(String destination) {
    return SubscriptionSpec.of(destination);
  }

  @Test
  void oneConfirmationInAThousandLost_isPublishedAgain_andEveryCopyIsAbsorbed_losingNothing() throws Exception {
    long seed = System.nanoTime();
    try (FlowUnderFaults flow = new FlowUnderFaults("dropped_confirms")) {
      String destination = newDestination("dropped-confirms", flow.consumer);
      Transport real = createTransport();
      DroppingConfirmations dropping = new DroppingConfirmations(real, 1_000, seed);
      Transport consumerTransport = createTransport();
      Relay relay = flow.relay(dropping).build();
      Subscription subscription = null;
      try {
        subscription = consumerTransport.subscribe(spec(destination), flow.processor());
        relay.start();
        flow.write(destination, EVENTS, 20, Duration.ofSeconds(3));

        boolean drained =
            FlowUnderFaults.await(
                Duration.ofSeconds(90),
                () ->
                    flow.outbox("PENDING") == 0
                        && flow.lost() == 0
                        && flow.dedupeHits() + dropping.brokerDuplicates() >= dropping.dropped());
        String report =
            String.format(
                "%s (seed %d): %d events, confirmations %d, dropped %d, republished rows %d, broker"
                    + " duplicates %d, dedupe hits %.0f, effects %d, lost %d, duplicated effects %d,"
                    + " dead rows %d, dead letters %d",
                getClass().getSimpleName(),
                seed,
                flow.written(),
                dropping.confirmations(),
                dropping.dropped(),
                flow.republished(),
                dropping.brokerDuplicates(),
                flow.dedupeHits(),
                flow.effects(),
                flow.lost(),
                flow.duplicatedEffects(),
                flow.outbox("DEAD"),
                flow.deadLetters());
        log.info(report);
        System.out.println(report);

        assertThat(drained).as("drained: " + report).isTrue();
        assertThat(dropping.dropped()).as("confirmations dropped: " + report).isGreaterThanOrEqualTo(EVENTS / 1_000);
        assertThat(flow.lost()).as("lost: " + report).isZero();
        assertThat(flow.duplicatedEffects()).as("duplicated effects: " + report).isZero();
        assertThat(flow.effects()).isEqualTo(EVENTS);
        assertThat(flow.republished()).as("rows published again: " + report).isBetween(1L, dropping.dropped());
        assertThat((long) flow.dedupeHits() + dropping.brokerDuplicates())
            .as("each dropped confirmation's copy absorbed once, by the broker or the ledger: " + report)
            .isEqualTo(dropping.dropped());
        assertThat(flow.outbox("DEAD")).isZero();
        assertThat(flow.deadLetters()).isZero();
      } finally {
        FlowUnderFaults.quietly(relay);
        FlowUnderFaults.quietly(subscription);
        FlowUnderFaults.quietly(real);
        FlowUnderFaults.quietly(consumerTransport);
        deleteDestination(destination, flow.consumer);
      }
    }
  }

  /**
   * Publishes through the real transport and reports one confirmation in {@code every} (at a
   * position drawn from the seed) as a retriable failure: the broker has the event, the relay
   * thinks it has not.
   */
  static final class DroppingConfirmations implements Transport {
    private final Transport delegate;
    private final long every;
    private final long offset;
    private final AtomicLong confirmations = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong brokerDuplicates = new AtomicLong();

    DroppingConfirmations(Transport delegate, long every, long seed) {
      this.delegate = delegate;
      this.every = every;
      this.offset = new SplittableRandom(seed).nextLong(every);
    }

    @Override
    public String name() {
      return delegate.name();
    }

    @Override
    public List<PublishResult> publish(List<Event> batch, Duration timeout) {
      List<PublishResult> results = new ArrayList<>(delegate.publish(batch, timeout));
      for (int i = 0; i < results.size(); i++) {
        if (results.get(i) instanceof PublishResult.Confirmed c) {
          if (c.brokerDuplicate()) {
            brokerDuplicates.incrementAndGet();
          }
          if (confirmations.getAndIncrement() % every == offset) {
            dropped.incrementAndGet();
            results.set(
                i,
                new PublishResult.Failed(
                    c.eventId(),
                    new RetriableCourierException("confirmation lost on its way back (simulated)", c.eventId(), null, null),
                    true));
          }
        }
      }
      return results;
    }

    long confirmations() {
      return confirmations.get();
    }

    long dropped() {
      return dropped.get();
    }

    long brokerDuplicates() {
      return brokerDuplicates.get();
    }
  }
}
