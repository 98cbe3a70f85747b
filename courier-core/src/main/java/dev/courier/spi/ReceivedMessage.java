package dev.courier.spi;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.internal.Text;
import dev.courier.outbox.Outbox;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Decoded.Undecodable;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * One message as a transport received it, on its way to becoming an {@link Event}: the part of
 * decoding that is the same on every broker. The transport reads its wire format (record key,
 * header encoding, message properties) and hands over text; this class separates Courier's headers
 * from the application's, checks the event id, type, lengths and creation time, and says why a
 * message cannot be an event. The message is untrusted input: the transport checks its size with
 * {@link #oversized} before it parses anything, and nothing in it chooses a class or an SQL
 * identifier.
 *
 * <p>Every transport carries an event in the headers named here, written by {@link EventHeaders};
 * names starting with {@link #RESERVED_PREFIX} belong to Courier.
 *
 * <p>Not thread-safe: a transport uses one instance for one received message.
 */
public final class ReceivedMessage {
  /** The prefix of every header name Courier reserves. */
  public static final String RESERVED_PREFIX = "courier-";

  /** The event id, a canonical UUID; consumers deduplicate on it. Required. */
  public static final String EVENT_ID = "courier-event-id";

  /** The event type. Required. */
  public static final String EVENT_TYPE = "courier-event-type";

  /**
   * The ordering key, on brokers whose messages have no key of their own (RabbitMQ, NATS); present
   * only when the event has one. On Kafka the key is the record key and this header is not written.
   */
  public static final String EVENT_KEY = "courier-event-key";

  /** The correlation id; present only when the event has one. */
  public static final String CORRELATION_ID = "courier-correlation-id";

  /** The causation id; present only when the event has one. */
  public static final String CAUSATION_ID = "courier-causation-id";

  /** When the event was written, as an ISO-8601 instant. Optional for foreign producers. */
  public static final String CREATED_AT = "courier-created-at";

  /**
   * The id of the replay that put the event back in the outbox, on a replay addressed to one
   * consumer (see {@link #REPLAY_CONSUMER}). Carried in the event's {@link Event#headers()}.
   */
  public static final String REPLAY_ID = "courier-replay-id";

  /**
   * The one consumer a replayed event is addressed to: {@link
   * dev.courier.inbox.IdempotentProcessor} of any other consumer acknowledges it without handling
   * it, and the addressed one handles it once per {@link #REPLAY_ID}, even if its ledger already
   * holds the event. Carried in the event's {@link Event#headers()}, where a history replay puts it.
   */
  public static final String REPLAY_CONSUMER = "courier-replay-consumer";

  private final String noun;
  private final boolean namesIgnoreCase;
  private final String destination;
  private final byte[] payload;
  private final Supplier<Map<String, String>> rawHeaders;
  private final Map<String, String> courier = new HashMap<>();
  private final Map<String, String> application = new LinkedHashMap<>();
  private String key;
  private String keyProblem;
  private String idFallback;
  private String idFallbackSource;
  private String typeFallback;
  private String typeFallbackSource;
  private String correlationIdFallback;

  private ReceivedMessage(
      String noun,
      boolean namesIgnoreCase,
      String destination,
      byte[] payload,
      Supplier<Map<String, String>> rawHeaders) {
    this.noun = Objects.requireNonNull(noun, "noun");
    this.namesIgnoreCase = namesIgnoreCase;
    this.destination = destination;
    this.payload = payload;
    this.rawHeaders = Objects.requireNonNull(rawHeaders, "rawHeaders");
  }

  /**
   * Starts decoding one received message.
   *
   * @param noun what the broker calls it ("record", "message"), for error messages
   * @param namesIgnoreCase whether Courier's header names match in any case (on brokers whose
   *     header names are case-insensitive) or only exactly
   * @param destination the destination it was consumed from, which becomes the event's
   * @param payload the payload as received; kept as it is for a dead letter
   * @param rawHeaders the headers as received, as text, for a dead letter; called only when the
   *     message cannot be decoded
   */
  public static ReceivedMessage of(
      String noun,
      boolean namesIgnoreCase,
      String destination,
      byte[] payload,
      Supplier<Map<String, String>> rawHeaders) {
    return new ReceivedMessage(noun, namesIgnoreCase, destination, payload, rawHeaders);
  }

  /**
   * The result for a message over the consumer's size limit, which is not parsed further.
   *
   * @param size the bytes the message carries
   * @param limit the consumer's limit
   * @param limitSetting where the limit is set, for the message
   */
  public Undecodable oversized(long size, long limit, String limitSetting) {
    Map<String, String> raw = rawHeaders.get();
    UUID id = lenientId(raw.get(EVENT_ID));
    return new Undecodable(
        id,
        DeadLetterReason.OVERSIZED,
        new InvalidEventException(
            noun
                + " carries "
                + size
                + " bytes, over the consumer's limit of "
                + limit
                + " bytes ("
                + limitSetting
                + ")",
            id,
            destination),
        raw,
        payload);
  }

  /**
   * The result for a message that cannot be an event.
   *
   * @param id the event id if it is known to be valid, else {@code null}
   * @param why what is wrong, for the dead letter and the log
   */
  public Undecodable malformed(UUID id, String why) {
    return new Undecodable(
        id,
        DeadLetterReason.MALFORMED,
        new InvalidEventException("malformed " + noun + ": " + why, id, destination),
        rawHeaders.get(),
        payload);
  }

  /**
   * Whether a transport must refuse {@code name} among an event's application headers: names
   * starting with {@link #RESERVED_PREFIX} (in any case) are Courier's, except {@link #REPLAY_ID}
   * and {@link #REPLAY_CONSUMER}, which a replay puts in the event's headers for the transport to
   * carry.
   */
  public static boolean reservedHeaderName(String name) {
    return name.regionMatches(true, 0, RESERVED_PREFIX, 0, RESERVED_PREFIX.length())
        && !name.equals(REPLAY_ID)
        && !name.equals(REPLAY_CONSUMER);
  }

  /**
   * Adds a received header, decoded to text. A name starting with {@link #RESERVED_PREFIX} is
   * Courier's, any other the application's; headers the broker itself gives meaning to are the
   * transport's to leave out.
   *
   * @return the result for the message if this is a Courier header already received with a
   *     different value (either could be the real one, so neither is trusted), else {@code null}
   */
  public Undecodable header(String name, String value) {
    String courierName = namesIgnoreCase ? name.toLowerCase(Locale.ROOT) : name;
    if (!courierName.startsWith(RESERVED_PREFIX)) {
      application.put(name, value);
      return null;
    }
    String previous = courier.putIfAbsent(courierName, value);
    if (previous != null && !previous.equals(value)) {
      return malformed(
          null, "header '" + Text.printable(name) + "' appears twice with different values");
    }
    return null;
  }

  /** The value of one of Courier's headers, or {@code null} if the message has none. */
  public String courierHeader(String name) {
    return courier.get(name);
  }

  /** Sets the event's ordering key, read by the transport; without it the event has none. */
  public ReceivedMessage key(String key) {
    this.key = key;
    return this;
  }

  /**
   * Says that the message has a key that cannot be read; {@link #decode} reports it once the event
   * id is known.
   */
  public ReceivedMessage unreadableKey(String why) {
    this.keyProblem = why;
    return this;
  }

  /**
   * Where the event id comes from when the message has no {@link #EVENT_ID} header.
   *
   * @param text the id as text, or {@code null}
   * @param source what carries it, for the message ("message-id property")
   */
  public ReceivedMessage idOr(String text, String source) {
    this.idFallback = text;
    this.idFallbackSource = source;
    return this;
  }

  /**
   * Where the event type comes from when the message has no {@link #EVENT_TYPE} header.
   *
   * @param text the type, or {@code null}
   * @param source what carries it, for the message ("type property")
   */
  public ReceivedMessage typeOr(String text, String source) {
    this.typeFallback = text;
    this.typeFallbackSource = source;
    return this;
  }

  /** The correlation id when the message has no {@link #CORRELATION_ID} header. */
  public ReceivedMessage correlationIdOr(String text) {
    this.correlationIdFallback = text;
    return this;
  }

  /**
   * The event, from the headers added so far.
   *
   * @param createdAtFallback the creation time when the message has no {@link #CREATED_AT} header
   */
  public Decoded decode(Instant createdAtFallback) {
    UUID id;
    try {
      id = Event.parseId(courier.getOrDefault(EVENT_ID, idFallback));
    } catch (InvalidEventException e) {
      return malformed(
          null, "no valid " + EVENT_ID + " header" + or(idFallbackSource) + ": " + e.getMessage());
    }
    String type = courier.getOrDefault(EVENT_TYPE, typeFallback);
    if (type == null || type.isBlank()) {
      return malformed(
          id,
          "no " + EVENT_TYPE + " header" + or(typeFallbackSource) + ": every event needs a type");
    }
    if (keyProblem != null) {
      return malformed(id, keyProblem);
    }
    String correlationId = courier.getOrDefault(CORRELATION_ID, correlationIdFallback);
    String causationId = courier.get(CAUSATION_ID);
    String tooLong =
        firstTooLong(
            "event type",
            type,
            "key",
            key,
            "correlation id",
            correlationId,
            "causation id",
            causationId);
    if (tooLong != null) {
      return malformed(id, tooLong);
    }
    Instant createdAt = createdAtFallback;
    String createdText = courier.get(CREATED_AT);
    if (createdText != null) {
      try {
        createdAt = Instant.parse(createdText);
      } catch (DateTimeParseException e) {
        return malformed(
            id,
            CREATED_AT
                + " header is not an ISO-8601 instant: '"
                + Text.printable(createdText)
                + "'");
      }
    }
    Map<String, String> headers = application;
    String replayId = courier.get(REPLAY_ID);
    String replayConsumer = courier.get(REPLAY_CONSUMER);
    if (replayId != null || replayConsumer != null) {
      String tooLongReplay = firstTooLong("replay id", replayId, "replay consumer", replayConsumer);
      if (tooLongReplay != null) {
        return malformed(id, tooLongReplay);
      }
      headers = new LinkedHashMap<>(application);
      if (replayId != null) {
        headers.put(REPLAY_ID, replayId);
      }
      if (replayConsumer != null) {
        headers.put(REPLAY_CONSUMER, replayConsumer);
      }
    }
    return new Decodable(
        new Event(
            id,
            type,
            destination,
            key,
            payload,
            headers,
            correlationId,
            causationId,
            createdAt));
  }

  private static String or(String source) {
    return source == null ? "" : " or " + source;
  }

  private static String firstTooLong(String... namesAndValues) {
    for (int i = 0; i < namesAndValues.length; i += 2) {
      String v = namesAndValues[i + 1];
      if (v != null && v.length() > Outbox.MAX_NAME_LENGTH) {
        return namesAndValues[i]
            + " is "
            + v.length()
            + " characters, over the limit of "
            + Outbox.MAX_NAME_LENGTH;
      }
    }
    return null;
  }

  private static UUID lenientId(String text) {
    try {
      return text == null ? null : Event.parseId(text);
    } catch (InvalidEventException e) {
      return null;
    }
  }
}
