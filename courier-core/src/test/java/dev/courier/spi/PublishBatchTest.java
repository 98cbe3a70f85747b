package dev.courier.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.RetriableCourierException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The publish path every pipelining transport shares, against a broker kept in memory: each event's
 * fate is scripted by its type, so the test reads as the batch it publishes.
 */
class PublishBatchTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  /** A broker that answers each send as the event's type says. */
  private static final class ScriptedBatch extends PublishBatch<String> {
    final List<Event> sent = new ArrayList<>();
    final List<Future<String>> abandoned = new ArrayList<>();
    final Map<String, CompletableFuture<String>> silent = new HashMap<>();

    ScriptedBatch(List<Event> events, Duration timeout) {
      super(events, timeout, "ack");
    }

    @Override
    protected String problem(Event e) {
      return e.type().equals("Invalid") ? "the event is invalid" : null;
    }

    @Override
    protected PublishResult.Failed unavailable(Event e) {
      return e.destination().equals("down") ? notSent(e, "the destination is down", null) : null;
    }

    @Override
    protected Future<String> send(Event e) throws Exception {
      sent.add(e);
      return switch (e.type()) {
        case "Throws" -> throw new IOException("connection reset");
        case "FailsAtOnce" -> CompletableFuture.failedFuture(new IOException("refused at once"));
        case "FailsLater" -> failLater(new IllegalStateException("broker said no"));
        case "Silent" -> silent.computeIfAbsent(e.id().toString(), k -> new CompletableFuture<>());
        case "Interrupts" -> {
          Thread.currentThread().interrupt();
          throw new InterruptedException();
        }
        default -> CompletableFuture.completedFuture("stored@" + sent.size());
      };
    }

    private static CompletableFuture<String> failLater(Throwable t) {
      // late enough that the send itself counts as a success
      CompletableFuture<String> f = new CompletableFuture<>();
      CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS)
          .execute(() -> f.completeExceptionally(t));
      return f;
    }

    @Override
    protected PublishResult answered(Event e, String position) {
      return new PublishResult.Confirmed(e.id(), position, false);
    }

    @Override
    protected PublishResult.Failed failed(Event e, Throwable error) {
      return new PublishResult.Failed(e.id(), error, !(error instanceof IllegalStateException));
    }

    @Override
    protected void abandon(Future<String> answer) {
      abandoned.add(answer);
    }
  }

  private static Event event(String type, String key) {
    return Event.builder(type).destination("orders").key(key).build();
  }

  private static PublishResult.Failed failed(PublishResult r) {
    assertThat(r).isInstanceOf(PublishResult.Failed.class);
    return (PublishResult.Failed) r;
  }

  @Test
  void confirmedEvents_areReportedInBatchOrder_withTheBrokersAnswer() {
    List<Event> events = List.of(event("A", "k1"), event("B", null), event("C", "k1"));

    List<PublishResult> results = new ScriptedBatch(events, TIMEOUT).publish();

    assertThat(results)
        .containsExactly(
            new PublishResult.Confirmed(events.get(0).id(), "stored@1", false),
            new PublishResult.Confirmed(events.get(1).id(), "stored@2", false),
            new PublishResult.Confirmed(events.get(2).id(), "stored@3", false));
  }

  @Test
  void anEmptyBatch_hasNoResults() {
    assertThat(new ScriptedBatch(List.of(), TIMEOUT).publish()).isEmpty();
  }

  @Test
  void anInvalidEvent_failsNonRetriably_andHoldsNothingBack() {
    List<Event> events = List.of(event("Invalid", "k"), event("A", "k"));
    ScriptedBatch batch = new ScriptedBatch(events, TIMEOUT);

    List<PublishResult> results = batch.publish();

    PublishResult.Failed invalid = failed(results.get(0));
    assertThat(invalid.retriable()).isFalse();
    assertThat(invalid.error())
        .isInstanceOf(InvalidEventException.class)
        .hasMessageContaining("the event is invalid")
        .hasMessageContaining(events.get(0).id().toString());
    assertThat(results.get(1)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(batch.sent).containsExactly(events.get(1));
  }

  @Test
  void aSendThatFailsRetriably_holdsBackTheLaterEventsOfItsKey_only() {
    List<Event> events =
        List.of(
            event("Throws", "k1"),
            event("A", "k1"),
            event("B", "k2"),
            event("FailsAtOnce", "k3"),
            event("C", "k3"),
            event("D", null));
    ScriptedBatch batch = new ScriptedBatch(events, TIMEOUT);

    List<PublishResult> results = batch.publish();

    assertThat(failed(results.get(0)).error()).hasMessage("connection reset");
    assertThat(failed(results.get(1)).error())
        .isInstanceOf(RetriableCourierException.class)
        .hasMessageContaining("must not overtake it")
        .hasMessageContaining("that one: connection reset");
    assertThat(results.get(2)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(failed(results.get(3)).error()).hasMessage("refused at once");
    assertThat(failed(results.get(4)).retriable()).isTrue();
    assertThat(results.get(5)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(batch.sent).doesNotContain(events.get(1), events.get(4));
  }

  @Test
  void anUnavailableDestination_isNotSent_andHoldsBackItsKey() {
    Event down = Event.builder("A").destination("down").key("k").build();
    Event later = Event.builder("B").destination("down").key("k").build();
    ScriptedBatch batch = new ScriptedBatch(List.of(down, later), TIMEOUT);

    List<PublishResult> results = batch.publish();

    assertThat(failed(results.get(0)).error())
        .hasMessageContaining("not sent: the destination is down");
    assertThat(failed(results.get(1)).error())
        .hasMessageContaining("must not overtake it")
        .hasMessageContaining("the destination is down");
    assertThat(batch.sent).isEmpty();
  }

  @Test
  void anAnswerThatFailsAfterTheSend_isMappedByTheTransport_andHoldsNothingBack() {
    List<Event> events = List.of(event("FailsLater", "k"), event("A", "k"));

    List<PublishResult> results = new ScriptedBatch(events, TIMEOUT).publish();

    PublishResult.Failed f = failed(results.get(0));
    assertThat(f.retriable()).isFalse();
    assertThat(f.error()).hasMessage("broker said no");
    assertThat(results.get(1)).isInstanceOf(PublishResult.Confirmed.class);
  }

  @Test
  void noAnswerByTheDeadline_isRetriable_andTheAnswerIsAbandoned() {
    List<Event> events = List.of(event("Silent", "k"), event("A", "k"));
    ScriptedBatch batch = new ScriptedBatch(events, Duration.ofMillis(200));

    long started = System.nanoTime();
    List<PublishResult> results = batch.publish();

    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
    PublishResult.Failed f = failed(results.get(0));
    assertThat(f.retriable()).isTrue();
    assertThat(f.error())
        .hasMessageContaining("no ack from the broker within PT0.2S")
        .hasMessageContaining("consumers deduplicate");
    assertThat(results.get(1))
        .as("an answer already in is collected after the deadline")
        .isInstanceOf(PublishResult.Confirmed.class);
    assertThat(batch.abandoned).hasSize(1);
  }

  @Test
  void eventsWhoseTurnComesAfterTheDeadline_areNotSent() {
    List<Event> events = List.of(event("A", "k1"), event("B", "k2"));
    ScriptedBatch batch = new ScriptedBatch(events, Duration.ZERO);

    List<PublishResult> results = batch.publish();

    assertThat(results)
        .allSatisfy(
            r ->
                assertThat(failed(r).error())
                    .hasMessageContaining("not sent: the publish timeout of PT0S passed"));
    assertThat(batch.sent).isEmpty();
  }

  @Test
  void anInterruptedThread_sendsNothingMore_butKeepsTheAnswersAlreadyIn() {
    List<Event> events = List.of(event("A", "k1"), event("Interrupts", "k2"), event("B", "k3"));
    ScriptedBatch batch = new ScriptedBatch(events, TIMEOUT);

    List<PublishResult> results;
    try {
      results = batch.publish();
    } finally {
      assertThat(Thread.interrupted()).as("the interrupt is kept for the caller").isTrue();
    }

    assertThat(results.get(0)).isInstanceOf(PublishResult.Confirmed.class);
    assertThat(failed(results.get(1)).retriable()).isTrue();
    assertThat(failed(results.get(2)).error())
        .hasMessageContaining("not sent: the publishing thread was interrupted");
    assertThat(batch.sent).containsExactly(events.get(0), events.get(1));
  }
}
