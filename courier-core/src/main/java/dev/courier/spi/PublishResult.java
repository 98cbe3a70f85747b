package dev.courier.spi;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.RetriableCourierException;
import java.util.Objects;
import java.util.UUID;

/** What the broker said about one published event. */
public sealed interface PublishResult {

  /** The event this result is about. */
  UUID eventId();

  /**
   * A failure that retrying cannot fix: {@code event} can never be published as it is, and the
   * relay parks it as dead at once. The error is an {@link InvalidEventException} naming the event
   * and its destination.
   *
   * @param why what is wrong with the event, for the outbox row's last error
   */
  static Failed refused(Event event, String why) {
    return new Failed(
        event.id(), new InvalidEventException(why, event.id(), event.destination()), false);
  }

  /**
   * A failure that a later attempt may not meet (the broker unreachable, no confirmation in time).
   * The error is a {@link RetriableCourierException} naming the event and its destination.
   *
   * @param why what happened, for the outbox row's last error
   * @param cause the failure behind it, or {@code null}
   */
  static Failed retriable(Event event, String why, Throwable cause) {
    return new Failed(
        event.id(),
        new RetriableCourierException(why, event.id(), event.destination(), cause),
        true);
  }

  /**
   * The broker confirmed the event.
   *
   * @param eventId the event
   * @param position where the broker stored it, for logs (for example {@code orders-2@1042})
   * @param brokerDuplicate true when the broker recognised the event as a duplicate of one it
   *     already holds (JetStream's dedupe window); the event is stored once
   */
  record Confirmed(UUID eventId, String position, boolean brokerDuplicate)
      implements PublishResult {
    public Confirmed {
      Objects.requireNonNull(eventId, "eventId");
    }
  }

  /**
   * The broker did not confirm the event.
   *
   * @param eventId the event
   * @param error why; its message is stored as the outbox row's last error
   * @param retriable false when retrying cannot help (for example the record is larger than the
   *     broker accepts); the relay then parks the row as dead at once
   */
  record Failed(UUID eventId, Throwable error, boolean retriable) implements PublishResult {
    public Failed {
      Objects.requireNonNull(eventId, "eventId");
      Objects.requireNonNull(error, "error");
    }
  }
}
