package dev.courier.spi;

import java.util.Objects;
import java.util.UUID;

/** What the broker said about one published event. */
public sealed interface PublishResult {

  /** The event this result is about. */
  UUID eventId();

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
