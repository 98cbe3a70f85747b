package dev.courier.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.deadletter.ReplayResult;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.LedgerAdmin;
import dev.courier.jdbc.CourierTables;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole way round on PostgreSQL: an event written to the outbox is published by the relay,
 * dead-lettered by its consumer, replayed by an operator, published again with the same event id,
 * and processed by the consumer, whose ledger then holds it; a second consumer that had processed
 * it the first time skips the replay as a duplicate.
 *
 * <p>The broker hop is the relay handing its confirmed batch to the consumers in the same JVM, as a
 * transport's subscription would after delivery; the outbox, relay, ledger and dead-letter table
 * are the real ones.
 */
class ReplayEndToEndTest {
  private AdminFixture f;
  private final List<Event> broker = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    f = new AdminFixture("dl_e2e");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void deadLetteredEvent_replayed_isProcessedByItsConsumer_andDedupedByTheOthers() throws Exception {
    AtomicBoolean broken = new AtomicBoolean(true);
    IdempotentProcessor billing =
        f.consumer("billing", (event, c) -> {
          if (broken.get()) {
            throw new PoisonEventException("currency table missing");
          }
        });
    IdempotentProcessor audit = f.consumer("audit", (event, c) -> {});
    Outbox outbox = Outbox.builder().clock(f.clock).build();
    Event written;
    try (Connection c = f.db.getConnection()) {
      c.setAutoCommit(false);
      written = outbox.append(c, Event.builder("OrderPlaced").destination("orders").key("o-1").payload("{}"));
      c.commit();
    }
    try (Relay relay = relay()) {
      relay.runOnce();
      assertThat(broker).extracting(Event::id).containsExactly(written.id());
      Event delivered = broker.removeFirst();
      assertThat(billing.process(delivered, 1, "orders-0@0")).isInstanceOf(HandleOutcome.DeadLettered.class);
      assertThat(audit.process(delivered, 1, "orders-0@0")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(f.ledgerHas("billing", written.id())).as("a dead letter is not in the ledger").isFalse();

      broken.set(false);
      long id = f.idOf(written);
      ReplayResult r =
          f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(id)), "after-fix", new Attribution("alice", "currency table restored")));
      assertThat(r.replayed()).isEqualTo(1);

      relay.runOnce();
      assertThat(broker).extracting(Event::id).containsExactly(written.id());
      Event replayed = broker.removeFirst();
      assertThat(replayed.createdAt()).isEqualTo(delivered.createdAt());
      assertThat(billing.process(replayed, 1, "orders-0@1")).isInstanceOf(HandleOutcome.Applied.class);
      assertThat(audit.process(replayed, 1, "orders-0@1")).isInstanceOf(HandleOutcome.Duplicate.class);

      assertThat(f.ledgerHas("billing", written.id())).isTrue();
      assertThat(new LedgerAdmin(f.db, CourierTables.DEFAULT).processedBy(written.id()))
          .extracting(LedgerAdmin.Processed::consumer)
          .containsExactly("audit", "billing");
      assertThat(f.admin.show(id).summary().status()).isEqualTo(DeadLetterStatus.REPLAYED);

      // the same replay submitted again publishes nothing more
      assertThat(f.admin.replay(ReplayRequest.of(DeadLetterFilter.ids(List.of(id)), "after-fix", Attribution.of("bob"))).alreadySubmitted()).isTrue();
      relay.runOnce();
      assertThat(broker).isEmpty();
    }
  }

  @Test
  void replayingADeadLetterTheConsumerHasSinceProcessed_marksItWithoutEnqueueing() {
    IdempotentProcessor billing = f.consumer("billing", (event, c) -> {});
    Event e = f.poison("billing", "k1");
    billing.process(e, 1, "redelivered");

    ReplayResult r = f.admin.replay(ReplayRequest.of(DeadLetterFilter.builder().consumer("billing").build(), null, Attribution.of("alice")));

    assertThat(r.replayed()).isZero();
    assertThat(r.alreadyProcessed()).containsExactly(f.idOf(e));
    assertThat(f.single("SELECT count(*) FROM courier_outbox")).isZero();
    assertThat(f.admin.show(f.idOf(e)).summary().status()).isEqualTo(DeadLetterStatus.REPLAYED);
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
            return batch.stream()
                .<PublishResult>map(e -> new PublishResult.Confirmed(e.id(), "in-jvm", false))
                .toList();
          }
        };
    return Relay.builder(f.db, inJvm).relayId("relay-test").clock(f.clock).build();
  }
}
