package dev.courier.spi;

import dev.courier.Event;
import dev.courier.internal.Futures;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One call of {@link Transport#publish}, carried out the way every pipelining transport does it:
 * all events are sent first, in the batch's order, then every answer is awaited until one deadline.
 * A transport subclasses it for what is its own (checking an event against its broker's rules,
 * sending, reading the broker's answer and errors) and gets the rest from here: the validation
 * outcome, the deadline, holding back the later events of a key that failed, and the results for
 * timeouts and interruptions.
 *
 * <p><b>Sending.</b> For each event, in order:
 *
 * <ol>
 *   <li>{@link #problem} says why it can never be published: it is a non-retriable failure ({@link
 *       PublishResult#refused}), and the relay parks it as dead.
 *   <li>It is not sent, and is a retriable failure saying why, when the publishing thread was
 *       interrupted, when an earlier event of the same destination and key in this batch could not
 *       be sent (so that the retry of that event cannot be overtaken by this one), when the
 *       deadline has passed, or when {@link #unavailable} gives a reason.
 *   <li>{@link #send} hands it to the broker's client. A send that throws, or whose answer has
 *       already failed, is a failure as {@link #failed} maps it; if that one is retriable, the
 *       later events of the key are held back.
 * </ol>
 *
 * <p><b>Answers.</b> Each sent event's answer is awaited until the deadline ({@link
 * #PublishBatch(List, Duration, String) construction} plus the timeout; an answer that has already
 * arrived is collected even after it): an answer is mapped by {@link #answered}, a failed one by
 * {@link #failed}. No answer by the deadline is a retriable failure (the broker may still store the
 * event; publishing it again is safe because consumers deduplicate), and so is an answer not yet in
 * when the thread is interrupted.
 *
 * <p>Ordering holds because nothing of a key is sent after a send of that key failed; an event that
 * was sent and then not confirmed does not hold back the later ones, which were sent already.
 *
 * <p>Not thread-safe: a transport makes one instance per call of {@code publish} and may keep state
 * of that batch in it. The hooks run on the calling thread; {@link #problem}, {@link #unavailable}
 * and {@link #send} run for one event after the other, in batch order.
 *
 * @param <A> what the broker's client answers for one sent event (a record's metadata, a PubAck)
 */
public abstract class PublishBatch<A> {
  private final List<Event> events;
  private final Duration timeout;
  private final String answer;
  private final long deadline;
  private final PublishResult[] results;
  private final Future<?>[] pending;
  // destination + NUL + key of each event whose send failed retriably, and its error
  private final Map<String, Throwable> heldBack = new HashMap<>();
  private boolean interrupted;

  /**
   * Starts a batch; its deadline is now plus {@code timeout}.
   *
   * @param events the events, in the order they should reach the broker
   * @param timeout how long to wait for all answers
   * @param answer what the broker's answer is called, for messages ("acknowledgement", "confirm")
   */
  protected PublishBatch(List<Event> events, Duration timeout, String answer) {
    this.events = Objects.requireNonNull(events, "batch");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    this.answer = Objects.requireNonNull(answer, "answer");
    this.deadline = System.nanoTime() + timeout.toNanos();
    this.results = new PublishResult[events.size()];
    this.pending = new Future<?>[events.size()];
  }

  /**
   * Sends the batch and waits for the answers.
   *
   * @return one result per event, in the batch's order
   */
  public final List<PublishResult> publish() {
    if (events.isEmpty()) {
      return List.of();
    }
    try {
      try {
        beforeSending();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        interrupted = true; // nothing is sent; each event is still checked and reported
      }
      for (int i = 0; i < events.size(); i++) {
        sendOne(i);
      }
    } finally {
      afterSending();
    }
    for (int i = 0; i < events.size(); i++) {
      awaitOne(i);
    }
    return Arrays.asList(results);
  }

  /** The events of this batch, in order. */
  protected final List<Event> events() {
    return events;
  }

  /** The deadline, in {@link System#nanoTime()} units. */
  protected final long deadline() {
    return deadline;
  }

  /** How long is left until the deadline; zero once it has passed. */
  protected final Duration remaining() {
    return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
  }

  /**
   * Runs before the first send, for example to take a lock or open a channel. {@link #afterSending}
   * runs after the last send in any case, even when this throws.
   *
   * @throws InterruptedException if the thread is interrupted; nothing is sent then
   */
  protected void beforeSending() throws InterruptedException {}

  /**
   * Runs after the last send (or after {@link #beforeSending} threw), before answers are awaited.
   */
  protected void afterSending() {}

  /**
   * Why {@code event} can never be published however often it is tried (its destination's name, a
   * reserved header, its size), or {@code null}. The message goes into the event's error.
   */
  protected abstract String problem(Event event);

  /**
   * The failure to report for {@code event} instead of sending it now, when the broker or the
   * destination is not ready for it (typically {@link #notSent}), or {@code null} to send it. A
   * retriable failure holds back the later events of its key.
   */
  protected PublishResult.Failed unavailable(Event event) {
    return null;
  }

  /**
   * Hands {@code event} to the broker's client and returns its pending answer.
   *
   * @throws Exception what the client throws; {@link #failed} maps it
   */
  protected abstract Future<A> send(Event event) throws Exception;

  /** The result for an event the broker answered; usually {@link PublishResult.Confirmed}. */
  protected abstract PublishResult answered(Event event, A answer);

  /**
   * The result for an event whose send threw or whose answer failed with {@code error}: whether
   * retrying can help is the transport's call.
   */
  protected abstract PublishResult.Failed failed(Event event, Throwable error);

  /** Forgets an answer nobody waits for any more (the deadline passed). Does nothing by default. */
  protected void abandon(Future<A> answer) {}

  /** A retriable failure for an event that was not sent: {@code "not sent: " + why}. */
  protected static PublishResult.Failed notSent(Event event, String why, Throwable cause) {
    return PublishResult.retriable(event, "not sent: " + why, cause);
  }

  private void sendOne(int i) {
    Event e = events.get(i);
    String problem = problem(e);
    if (problem != null) {
      results[i] = PublishResult.refused(e, problem);
      return;
    }
    PublishResult.Failed notSent = notSentNow(e);
    if (notSent != null) {
      fail(i, notSent);
      return;
    }
    Throwable failure;
    try {
      Future<A> f = Objects.requireNonNull(send(e), "the pending answer of a send");
      // Clients report many failures to take an event (no metadata, a refused record) through an
      // answer that has already failed rather than by throwing.
      failure = Futures.failureOf(f);
      if (failure == null) {
        pending[i] = f;
        return;
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      failure = ex;
    } catch (Exception ex) {
      failure = ex;
    }
    if (Thread.currentThread().isInterrupted()) {
      interrupted = true;
    }
    fail(i, failed(e, failure));
  }

  private PublishResult.Failed notSentNow(Event e) {
    if (interrupted) {
      return notSent(e, "the publishing thread was interrupted", null);
    }
    Throwable earlier = e.key() == null || heldBack.isEmpty() ? null : heldBack.get(orderKey(e));
    if (earlier != null) {
      return notSent(
          e,
          "an earlier event with the same key in this batch could not be sent, and this one must"
              + " not overtake it; that one: "
              + earlier.getMessage(),
          earlier);
    }
    if (System.nanoTime() - deadline >= 0) {
      return notSent(e, "the publish timeout of " + timeout + " passed before its turn", null);
    }
    return unavailable(e);
  }

  private void fail(int i, PublishResult.Failed failure) {
    results[i] = failure;
    Event e = events.get(i);
    if (failure.retriable() && e.key() != null) {
      heldBack.putIfAbsent(orderKey(e), failure.error());
    }
  }

  /** What orders an event among the batch's others: its destination and key. */
  private static String orderKey(Event e) {
    return e.destination() + '\u0000' + e.key();
  }

  @SuppressWarnings("unchecked") // pending[i] holds what send(Event) returned for event i
  private void awaitOne(int i) {
    Future<A> f = (Future<A>) pending[i];
    if (f == null) {
      return;
    }
    Event e = events.get(i);
    if (interrupted && !f.isDone()) {
      abandon(f);
      results[i] = interruptedWaiting(e, null);
      return;
    }
    try {
      // with nothing left this still collects an answer that has already arrived
      A a = f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      results[i] = answered(e, a);
    } catch (ExecutionException ex) {
      results[i] = failed(e, ex.getCause() != null ? ex.getCause() : ex);
    } catch (TimeoutException | CancellationException ex) {
      abandon(f);
      results[i] =
          PublishResult.retriable(
              e,
              "no "
                  + answer
                  + " from the broker within "
                  + timeout
                  + "; the event may still be stored, and publishing it again is safe because"
                  + " consumers deduplicate",
              ex);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      interrupted = true;
      abandon(f);
      results[i] = interruptedWaiting(e, ex);
    } catch (RuntimeException ex) {
      results[i] = failed(e, ex);
    }
  }

  private PublishResult.Failed interruptedWaiting(Event e, Throwable cause) {
    return PublishResult.retriable(
        e, "no " + answer + ": the publishing thread was interrupted", cause);
  }
}
