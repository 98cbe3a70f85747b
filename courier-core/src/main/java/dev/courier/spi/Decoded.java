package dev.courier.spi;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.deadletter.DeadLetterReason;
import java.util.Map;
import java.util.UUID;

/**
 * The result of decoding a received message: an event, or the reason it cannot be one. A
 * transport's consumer processes a {@link Decodable} and dead-letters an {@link Undecodable}; see
 * {@link ReceivedMessage}.
 */
public sealed interface Decoded {

  /** The message is a well-formed event. */
  record Decodable(Event event) implements Decoded {}

  /**
   * The message cannot be processed.
   *
   * @param eventId the event id if the message carried a valid one, else {@code null}
   * @param reason MALFORMED or OVERSIZED
   * @param error what is wrong, for the dead letter and the log
   * @param rawHeaders the headers as received, for the dead letter
   * @param rawPayload the payload as received, for the dead letter
   */
  record Undecodable(
      UUID eventId,
      DeadLetterReason reason,
      InvalidEventException error,
      Map<String, String> rawHeaders,
      byte[] rawPayload)
      implements Decoded {}
}
