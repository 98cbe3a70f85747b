package dev.courier.inbox;

import dev.courier.FatalCourierException;
import java.util.UUID;

/** No handler is registered for an event's type; the event is dead-lettered as UNKNOWN_TYPE. */
public class UnknownEventTypeException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  public UnknownEventTypeException(String type, UUID eventId, String destination) {
    super("no handler is registered for event type '" + type + "'", eventId, destination, null);
  }
}
