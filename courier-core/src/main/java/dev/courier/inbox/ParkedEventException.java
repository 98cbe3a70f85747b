package dev.courier.inbox;

import dev.courier.FatalCourierException;
import java.util.UUID;

/**
 * In ordered mode, an event was not processed because an earlier event of its key is
 * dead-lettered for this consumer; it is parked behind that one. Recorded as the dead letter's
 * error, never thrown to callers.
 */
public class ParkedEventException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  private final long blockingDeadLetterId;

  public ParkedEventException(long blockingDeadLetterId, UUID eventId, String destination) {
    super(
        "parked behind dead letter " + blockingDeadLetterId + " of the same key; replaying that one releases this one in order",
        eventId,
        destination,
        null);
    this.blockingDeadLetterId = blockingDeadLetterId;
  }

  /** The id of the dead letter this event waits behind. */
  public long blockingDeadLetterId() {
    return blockingDeadLetterId;
  }
}
