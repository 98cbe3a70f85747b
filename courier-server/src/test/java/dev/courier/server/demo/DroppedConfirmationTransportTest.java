package dev.courier.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DroppedConfirmationTransportTest {

  /** Stands in for a broker that stores everything: confirms each event and remembers it. */
  private static final class StoringTransport implements Transport {
    final List<Event> stored = new ArrayList<>();

    @Override
    public String name() {
      return "storing";
    }

    @Override
    public List<PublishResult> publish(List<Event> batch, Duration timeout) {
      stored.addAll(batch);
      return batch.stream()
          .<PublishResult>map(
              e -> new PublishResult.Confirmed(e.id(), "t-0@" + stored.size(), false))
          .toList();
    }
  }

  private static List<Event> events(int n) {
    List<Event> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(Event.builder("OrderConfirmed").destination("orders").key("k" + i).build());
    }
    return out;
  }

  @Test
  void droppingEveryConfirmation_reportsRetriableFailures_afterTheBrokerStoredTheEvents() {
    StoringTransport broker = new StoringTransport();
    DemoStats stats = new DemoStats();
    DroppedConfirmationTransport transport = new DroppedConfirmationTransport(broker, 1.0, stats);
    List<Event> batch = events(3);

    List<PublishResult> results = transport.publish(batch, Duration.ofSeconds(1));

    assertThat(broker.stored).isEqualTo(batch);
    assertThat(results)
        .hasSize(3)
        .allSatisfy(
            r -> {
              assertThat(r).isInstanceOf(PublishResult.Failed.class);
              PublishResult.Failed f = (PublishResult.Failed) r;
              assertThat(f.retriable()).isTrue();
              assertThat(f.error())
                  .isInstanceOf(RetriableCourierException.class)
                  .hasMessageContaining("event_id=" + f.eventId());
            });
    assertThat(results.stream().map(PublishResult::eventId))
        .containsExactlyElementsOf(batch.stream().map(Event::id).toList());
    assertThat(stats.confirmationsDropped.sum()).isEqualTo(3);
    assertThat(stats.relayLag().getTotalCount()).isEqualTo(3);
  }

  @Test
  void droppingNothing_passesTheBrokersAnswersThrough() {
    DemoStats stats = new DemoStats();
    DroppedConfirmationTransport transport =
        new DroppedConfirmationTransport(new StoringTransport(), 0.0, stats);

    List<PublishResult> results = transport.publish(events(5), Duration.ofSeconds(1));

    assertThat(results).allMatch(r -> r instanceof PublishResult.Confirmed);
    assertThat(stats.confirmationsDropped.sum()).isZero();
  }
}
