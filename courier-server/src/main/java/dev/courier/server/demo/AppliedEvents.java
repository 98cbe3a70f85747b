package dev.courier.server.demo;

import dev.courier.inbox.EventHandler;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one consumer's handler has seen, for the after-commit hook and the report.
 *
 * <p>Transports run the after-commit hook for different outcomes: Kafka only after an applied
 * effect, RabbitMQ and JetStream also after a duplicate or a dead letter. The demo's fault and its
 * latency figure are about applied effects, so the wrapped handler notes each event whose effect it
 * just wrote, and the hook asks {@link #takeApplied} whether the event it sees is one of them. A
 * note whose transaction then rolled back is harmless: the event is retried, written and noted
 * again.
 *
 * <p>It also counts rolled-back events that reached the handler: the transport-neutral view of a
 * phantom "on the wire".
 *
 * <p>Thread-safe.
 */
final class AppliedEvents {
  private final Set<UUID> justApplied = ConcurrentHashMap.newKeySet();
  private final Set<UUID> rolledBack;
  private final Set<UUID> rolledBackHandled = ConcurrentHashMap.newKeySet();

  /**
   * @param rolledBack ids of events whose transaction rolled back; shared with the checkout
   */
  AppliedEvents(Set<UUID> rolledBack) {
    this.rolledBack = rolledBack;
  }

  /** The handler, noting each event whose effect it wrote. */
  EventHandler wrap(EventHandler handler) {
    return (event, connection) -> {
      if (rolledBack.contains(event.id())) {
        rolledBackHandled.add(event.id());
      }
      handler.handle(event, connection);
      justApplied.add(event.id());
    };
  }

  /** Whether the handler wrote this event's effect since the last call for it; forgets it. */
  boolean takeApplied(UUID eventId) {
    return justApplied.remove(eventId);
  }

  /** Distinct rolled-back events handed to the handler (must be 0). */
  long rolledBackHandled() {
    return rolledBackHandled.size();
  }
}
