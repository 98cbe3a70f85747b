package dev.courier.inbox;

import dev.courier.Event;
import java.sql.Connection;

/**
 * Applies one event's effect. Courier calls it inside a database transaction that already holds
 * the event's row in the processed-events ledger, and commits both together when it returns.
 *
 * <p>The handler must do its database work on the given connection and must not commit, roll back
 * or close it. It is called at most once per successful commit of an event, but may be called
 * again after a failed attempt (the previous attempt's database work was rolled back). Effects
 * outside the database (an email, an HTTP call) are not covered by the transaction: make them
 * idempotent, or record them in the database first and send them from an outbox.
 *
 * <p>Throw {@link dev.courier.PoisonEventException} when the event can never succeed; it is
 * dead-lettered at once. Any other exception is retried with backoff and dead-lettered after the
 * consumer's last attempt.
 */
@FunctionalInterface
public interface EventHandler {
  void handle(Event event, Connection connection) throws Exception;

  /** A handler that dispatches on the event type; see {@link EventHandlers}. */
  static EventHandlers.Builder byType() {
    return EventHandlers.builder();
  }
}
