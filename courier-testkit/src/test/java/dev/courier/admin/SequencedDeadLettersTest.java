package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.DeadLetterSummary;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.deadletter.ReplayResult;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ordered mode on PostgreSQL: once an event of a key is dead-lettered, later events of that key are
 * parked behind it while other keys keep flowing; replaying it releases the key's sequence, which
 * the consumer then applies in order.
 */
class SequencedDeadLettersTest {
  private AdminFixture f;
  private final List<Event> broker = new CopyOnWriteArrayList<>();
  private final List<String> applied = new CopyOnWriteArrayList<>();
  private final AtomicBoolean broken = new AtomicBoolean(true);

  @BeforeEach
  void setUp() {
    f = new AdminFixture("sequenced");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private EventHandler handler() {
    return (event, c) -> {
      String payload = new String(event.payload(), StandardCharsets.UTF_8);
      if (broken.get() && payload.startsWith("poison")) {
        throw new PoisonEventException("cannot price " + payload);
      }
      applied.add(payload);
    };
  }

  private IdempotentProcessor consumer(String name, boolean ordered) {
    return IdempotentProcessor.builder(name, f.db, handler())
        .clock(f.clock)
        .orderedByKey(ordered)
        .retryPolicy(RetryPolicy.builder().maxAttempts(1).initialDelay(Duration.ofMillis(1)).maxDelay(Duration.ofMillis(1)).build())
        .build();
  }

  @Test
  void laterEventsOfADeadLetteredKey_areParked_otherKeysFlow_andReplayReleasesTheSequenceInOrder() throws Exception {
    Outbox outbox = Outbox.builder().clock(f.clock).build();
    // K1: poison-1, k1-2, k1-3; K2 interleaved: k2-1, k2-2
    List<String[]> writes = List.of(
        new String[] {"K1", "poison-1"}, new String[] {"K2", "k2-1"}, new String[] {"K1", "k1-2"},
        new String[] {"K2", "k2-2"}, new String[] {"K1", "k1-3"});
    for (String[] w : writes) {
      try (Connection c = f.db.getConnection()) {
        c.setAutoCommit(false);
        outbox.append(c, Event.builder("PriceOrder").destination("orders").key(w[0]).payload(w[1]));
        c.commit();
      }
    }
    IdempotentProcessor billing = consumer("billing", true);
    List<HandleOutcome> outcomes = new ArrayList<>();
    try (Relay relay = relay()) {
      relay.runOnce();
      for (Event e : broker) {
        outcomes.add(billing.process(e, 1, "orders-0"));
      }
      broker.clear();

      assertThat(outcomes).extracting(o -> o.getClass().getSimpleName())
          .containsExactly("DeadLettered", "Applied", "DeadLettered", "Applied", "DeadLettered");
      assertThat(((HandleOutcome.DeadLettered) outcomes.get(2)).reason()).isEqualTo(DeadLetterReason.PARKED);
      assertThat(applied).containsExactly("k2-1", "k2-2");
      Map<DeadLetterStatus, Long> byStatus =
          f.admin.list(DeadLetterFilter.builder().consumer("billing").build(), 1, 50).items().stream()
              .collect(Collectors.groupingBy(DeadLetterSummary::status, Collectors.counting()));
      assertThat(byStatus).containsEntry(DeadLetterStatus.DEAD, 1L).containsEntry(DeadLetterStatus.PARKED, 2L);
      assertThat(f.admin.counts().byConsumer()).containsEntry("billing", 1L);
      assertThat(f.admin.groups()).as("parked events are not failures").singleElement()
          .satisfies(g -> assertThat(g.count()).isEqualTo(1));

      List<DeadLetterSummary> rows = f.admin.list(DeadLetterFilter.builder().consumer("billing").build(), 1, 50).items()
          .stream().sorted(Comparator.comparingLong(DeadLetterSummary::id)).toList();
      long head = rows.get(0).id();
      long parked2 = rows.get(1).id();
      long parked3 = rows.get(2).id();

      // a parked event cannot jump the queue
      ReplayResult early = f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(parked3)), null, Attribution.of("alice")));
      assertThat(early.replayed()).isZero();
      assertThat(early.skipped()).singleElement().satisfies(s -> assertThat(s.why()).contains("behind dead letter " + head));

      broken.set(false);
      ReplayResult release =
          f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(head)), "release-K1", new Attribution("alice", "price list fixed")));
      assertThat(release.items()).containsExactly(head, parked2, parked3);

      relay.runOnce();
      assertThat(broker).extracting(e -> new String(e.payload(), StandardCharsets.UTF_8))
          .containsExactly("poison-1", "k1-2", "k1-3");
      for (Event e : broker) {
        assertThat(billing.process(e, 1, "orders-0")).isInstanceOf(HandleOutcome.Applied.class);
      }
    }
    assertThat(applied).containsExactly("k2-1", "k2-2", "poison-1", "k1-2", "k1-3");
    assertThat(f.admin.list(DeadLetterFilter.builder().consumer("billing").build(), 1, 50).items())
        .allSatisfy(s -> assertThat(s.status()).isEqualTo(DeadLetterStatus.REPLAYED));
  }

  @Test
  void unorderedMode_handlesLaterEventsOfTheKeyOnTheirOwn() {
    IdempotentProcessor audit = consumer("audit", false);
    Event poison = Event.builder("PriceOrder").destination("orders").key("K1").payload("poison-1").build(f.clock.instant());
    Event next = Event.builder("PriceOrder").destination("orders").key("K1").payload("k1-2").build(f.clock.instant());

    assertThat(audit.process(poison, 1, "x")).isInstanceOf(HandleOutcome.DeadLettered.class);
    assertThat(audit.process(next, 1, "x")).isInstanceOf(HandleOutcome.Applied.class);
    assertThat(applied).containsExactly("k1-2");
  }

  @Test
  void aParkedEventThatWasProcessedBefore_isADuplicate_notParked() {
    IdempotentProcessor billing = consumer("billing", true);
    Event next = Event.builder("PriceOrder").destination("orders").key("K1").payload("k1-2").build(f.clock.instant());
    assertThat(billing.process(next, 1, "x")).isInstanceOf(HandleOutcome.Applied.class);
    Event poison = Event.builder("PriceOrder").destination("orders").key("K1").payload("poison-1").build(f.clock.instant());
    assertThat(billing.process(poison, 1, "x")).isInstanceOf(HandleOutcome.DeadLettered.class);

    assertThat(billing.process(next, 2, "redelivered")).isInstanceOf(HandleOutcome.Duplicate.class);
    assertThat(f.single("SELECT count(*) FROM courier_dead_letters WHERE status = 'PARKED'")).isZero();
  }

  private Relay relay() {
    Transport inJvm =
        new Transport() {
          @Override
          public String name() {
            return "in-jvm";
          }

          @Override
          public List<PublishResult> publish(List<Event> batch, Duration timeout) {
            broker.addAll(batch);
            return batch.stream().<PublishResult>map(e -> new PublishResult.Confirmed(e.id(), "in-jvm", false)).toList();
          }
        };
    return Relay.builder(f.db, inJvm).relayId("relay-seq").clock(f.clock).build();
  }
}
