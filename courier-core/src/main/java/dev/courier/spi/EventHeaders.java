package dev.courier.spi;

import dev.courier.Event;
import dev.courier.internal.Text;
import java.util.Map;

/**
 * The headers that carry an event on every broker: one set of names (those of {@link
 * ReceivedMessage}), one order, text values, and one count of the bytes they take. A transport maps
 * each (name, value) pair to its wire form (UTF-8 bytes on Kafka, a {@code longstr} on RabbitMQ,
 * printable ASCII or an encoded word on NATS); the consumer side reads them back with {@link
 * ReceivedMessage}.
 *
 * <p>The order is {@link ReceivedMessage#EVENT_ID}, {@link ReceivedMessage#EVENT_TYPE}, {@link
 * ReceivedMessage#EVENT_KEY} (only where the key travels as a header), {@link
 * ReceivedMessage#CORRELATION_ID} and {@link ReceivedMessage#CAUSATION_ID} (only when the event has
 * them), {@link ReceivedMessage#CREATED_AT} as an ISO-8601 instant, then the application's headers
 * in the event's order.
 *
 * <p>Immutable and thread-safe.
 */
public final class EventHeaders {

  /** For a broker whose records have a key of their own (Kafka): the key is not a header. */
  public static final EventHeaders KEY_AS_RECORD_KEY = new EventHeaders(false);

  /** For a broker without record keys (RabbitMQ, NATS): the key travels as a header. */
  public static final EventHeaders KEY_AS_HEADER = new EventHeaders(true);

  /** Receives an event's headers, one pair at a time, in the order of the class description. */
  @FunctionalInterface
  public interface Sink {
    /** One header; neither name nor value is {@code null}. */
    void header(String name, String value);
  }

  private static final int UUID_TEXT_LENGTH = 36;

  private final boolean keyHeader;

  private EventHeaders(boolean keyHeader) {
    this.keyHeader = keyHeader;
  }

  /** Hands every header of {@code event} to {@code sink}, in order. */
  public void write(Event event, Sink sink) {
    sink.header(ReceivedMessage.EVENT_ID, event.id().toString());
    sink.header(ReceivedMessage.EVENT_TYPE, event.type());
    if (keyHeader && event.key() != null) {
      sink.header(ReceivedMessage.EVENT_KEY, event.key());
    }
    if (event.correlationId() != null) {
      sink.header(ReceivedMessage.CORRELATION_ID, event.correlationId());
    }
    if (event.causationId() != null) {
      sink.header(ReceivedMessage.CAUSATION_ID, event.causationId());
    }
    sink.header(ReceivedMessage.CREATED_AT, Text.isoInstantText(event.createdAt()));
    for (Map.Entry<String, String> h : event.headers().entrySet()) {
      sink.header(h.getKey(), h.getValue());
    }
  }

  /**
   * The bytes the message for {@code event} carries: the payload, the key (as a record key, or as a
   * header), and every header's name and value in UTF-8. This is what a transport checks against a
   * size limit; the broker adds some framing of its own.
   */
  public long bytes(Event event) {
    // Counted without writing the headers (a relay checks every event): the pairs of write().
    long n =
        event.payloadSize()
            + ReceivedMessage.EVENT_ID.length()
            + UUID_TEXT_LENGTH
            + header(ReceivedMessage.EVENT_TYPE, event.type())
            + header(ReceivedMessage.CORRELATION_ID, event.correlationId())
            + header(ReceivedMessage.CAUSATION_ID, event.causationId())
            + ReceivedMessage.CREATED_AT.length()
            + Text.isoInstantLength(event.createdAt());
    if (event.key() != null) {
      n += (keyHeader ? ReceivedMessage.EVENT_KEY.length() : 0) + Text.utf8Length(event.key());
    }
    for (Map.Entry<String, String> h : event.headers().entrySet()) {
      n += Text.utf8Length(h.getKey()) + Text.utf8Length(h.getValue());
    }
    return n;
  }

  /** The bytes of one of Courier's headers (ASCII names), or 0 when the event has no value. */
  private static long header(String name, String value) {
    return value == null ? 0 : name.length() + Text.utf8Length(value);
  }

  /**
   * Why {@code event} is larger than {@code limit}, or {@code null} if it is not: {@code "the
   * record is 5100 bytes (payload 5000), over the limit of 4096 bytes (Builder.maxRecordBytes)"}.
   *
   * @param noun what the broker calls a message ("record", "message")
   * @param limitSetting where the limit is set, for the message
   */
  public String sizeProblem(Event event, String noun, long limit, String limitSetting) {
    long size = bytes(event);
    if (size <= limit) {
      return null;
    }
    return "the "
        + noun
        + " is "
        + size
        + " bytes (payload "
        + event.payloadSize()
        + "), over the limit of "
        + limit
        + " bytes ("
        + limitSetting
        + ")";
  }

  /**
   * Why an application header of {@code event} cannot travel, or {@code null}: its name uses {@link
   * ReceivedMessage#RESERVED_PREFIX} (see {@link ReceivedMessage#reservedHeaderName}), so a
   * consumer would take it for one of Courier's. A transport adds the prefixes its broker reserves.
   */
  public static String reservedHeaderProblem(Event event) {
    for (String name : event.headers().keySet()) {
      if (ReceivedMessage.reservedHeaderName(name)) {
        return "application header '"
            + Text.printable(name)
            + "' uses the prefix '"
            + ReceivedMessage.RESERVED_PREFIX
            + "', which is reserved for Courier's own headers";
      }
    }
    return null;
  }
}
