package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.outbox.Outbox;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Turns events into AMQP messages and messages back into events, following {@link
 * RabbitMqHeaders}. Decoding treats the message as untrusted input: its size is checked before
 * anything is parsed, text must be valid UTF-8, and nothing in it chooses a class or an SQL
 * identifier.
 */
final class AmqpMessages {
  /** AMQP short strings (exchange, queue and routing key names, some properties). */
  static final int MAX_SHORT_STRING_BYTES = 255;

  /** The characters AMQP 0-9-1 allows in exchange and queue names. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._:-]+");

  private AmqpMessages() {}

  /**
   * Why {@code name} cannot be an exchange or queue name, or {@code null} if it can.
   *
   * @param what "exchange" or "queue", for the message
   */
  static String nameProblem(String what, String name) {
    if (name == null || name.isEmpty()) {
      return "the " + what + " name is empty";
    }
    if (utf8Length(name) > MAX_SHORT_STRING_BYTES) {
      return "the " + what + " name is " + utf8Length(name) + " bytes; AMQP allows at most " + MAX_SHORT_STRING_BYTES;
    }
    if (!NAME.matcher(name).matches()) {
      return "the "
          + what
          + " name '"
          + printable(name)
          + "' has characters AMQP does not allow; use ASCII letters, digits, '.', '_', ':' and '-'";
    }
    return null;
  }

  /** The first application header whose name is reserved for Courier or the broker, or {@code null}. */
  static String reservedHeader(Event event) {
    for (String name : event.headers().keySet()) {
      if (reserved(name)) {
        return name;
      }
    }
    return null;
  }

  private static boolean reserved(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.startsWith(RabbitMqHeaders.RESERVED_PREFIX) || lower.startsWith(RabbitMqHeaders.BROKER_PREFIX);
  }

  /** The bytes a message for {@code event} carries: payload, header names and values. */
  static long messageBytes(Event event) {
    long size = event.payloadSize();
    size += RabbitMqHeaders.EVENT_ID.length() + 36;
    size += RabbitMqHeaders.EVENT_TYPE.length() + utf8Length(event.type());
    size += RabbitMqHeaders.CREATED_AT.length() + event.createdAt().toString().length();
    if (event.key() != null) {
      size += RabbitMqHeaders.EVENT_KEY.length() + utf8Length(event.key());
    }
    if (event.correlationId() != null) {
      size += RabbitMqHeaders.CORRELATION_ID.length() + utf8Length(event.correlationId());
    }
    if (event.causationId() != null) {
      size += RabbitMqHeaders.CAUSATION_ID.length() + utf8Length(event.causationId());
    }
    for (Map.Entry<String, String> h : event.headers().entrySet()) {
      size += utf8Length(h.getKey()) + utf8Length(h.getValue());
    }
    return size;
  }

  /** The properties (headers included) of the message for an event. */
  static AMQP.BasicProperties properties(Event event, boolean persistent) {
    Map<String, Object> headers = new LinkedHashMap<>();
    headers.put(RabbitMqHeaders.EVENT_ID, event.id().toString());
    headers.put(RabbitMqHeaders.EVENT_TYPE, event.type());
    if (event.key() != null) {
      headers.put(RabbitMqHeaders.EVENT_KEY, event.key());
    }
    if (event.correlationId() != null) {
      headers.put(RabbitMqHeaders.CORRELATION_ID, event.correlationId());
    }
    if (event.causationId() != null) {
      headers.put(RabbitMqHeaders.CAUSATION_ID, event.causationId());
    }
    headers.put(RabbitMqHeaders.CREATED_AT, event.createdAt().toString());
    headers.putAll(event.headers());
    return new AMQP.BasicProperties.Builder()
        .messageId(event.id().toString())
        // short-string properties are a convenience for other tools; the headers are authoritative
        .type(fitsShortString(event.type()) ? event.type() : null)
        .correlationId(fitsShortString(event.correlationId()) ? event.correlationId() : null)
        .timestamp(Date.from(event.createdAt()))
        .deliveryMode(persistent ? 2 : 1)
        .headers(headers)
        .build();
  }

  private static boolean fitsShortString(String s) {
    return s != null && utf8Length(s) <= MAX_SHORT_STRING_BYTES;
  }

  /** The result of decoding a message: an event, or the reason it cannot be one. */
  sealed interface Decoded {}

  /** The message is a well-formed event. */
  record Decodable(Event event) implements Decoded {}

  /**
   * The message cannot be processed.
   *
   * @param eventId the event id if the message carried a valid one, else {@code null}
   * @param reason MALFORMED or OVERSIZED
   * @param error what is wrong, for the dead letter and the log
   * @param rawHeaders the headers as received, for the dead letter
   * @param rawPayload the body as received, for the dead letter
   */
  record Undecodable(
      UUID eventId,
      DeadLetterReason reason,
      InvalidEventException error,
      Map<String, String> rawHeaders,
      byte[] rawPayload)
      implements Decoded {}

  /** The bytes a received message carries: body, header names and values as text. */
  static long messageBytes(byte[] body, AMQP.BasicProperties props) {
    long size = body == null ? 0 : body.length;
    Map<String, Object> headers = props == null ? null : props.getHeaders();
    if (headers != null) {
      for (Map.Entry<String, Object> h : headers.entrySet()) {
        size += utf8Length(h.getKey()) + valueBytes(h.getValue());
      }
    }
    return size;
  }

  private static long valueBytes(Object v) {
    if (v instanceof LongString ls) {
      return ls.length();
    }
    if (v instanceof byte[] b) {
      return b.length;
    }
    // numbers, booleans, dates, and the broker's own tables and arrays (x-death): small, and
    // bounded by the frame size the broker accepts
    return v == null ? 0 : v.toString().length();
  }

  /**
   * Decodes a message into an event.
   *
   * @param destination the destination the subscription consumes, which becomes the event's
   * @param maxBytes messages carrying more bytes than this are {@link DeadLetterReason#OVERSIZED}
   *     and are not parsed further
   * @param fallbackCreatedAt the creation time to use when the message carries none
   */
  static Decoded decode(
      byte[] body, AMQP.BasicProperties props, String destination, long maxBytes, Instant fallbackCreatedAt) {
    byte[] payload = body == null ? new byte[0] : body;
    long size = messageBytes(payload, props);
    if (size > maxBytes) {
      Map<String, String> raw = rawHeaders(props);
      UUID id = lenientId(raw.getOrDefault(RabbitMqHeaders.EVENT_ID, props == null ? null : props.getMessageId()));
      return new Undecodable(
          id,
          DeadLetterReason.OVERSIZED,
          new InvalidEventException(
              "message carries "
                  + size
                  + " bytes, over the consumer's limit of "
                  + maxBytes
                  + " bytes (SubscriptionSpec.maxRecordBytes)",
              id,
              destination),
          raw,
          payload);
    }

    Map<String, String> reserved = new HashMap<>();
    Map<String, String> application = new LinkedHashMap<>();
    Map<String, Object> headers = props == null || props.getHeaders() == null ? Map.of() : props.getHeaders();
    for (Map.Entry<String, Object> h : headers.entrySet()) {
      String name = h.getKey();
      String lower = name.toLowerCase(Locale.ROOT);
      if (lower.startsWith(RabbitMqHeaders.BROKER_PREFIX)) {
        continue; // the broker's bookkeeping (x-delivery-count, x-death, ...), not the event's
      }
      String value;
      try {
        value = text(h.getValue());
      } catch (CharacterCodingException e) {
        return malformed(props, payload, destination, null, "header '" + printable(name) + "' is not valid UTF-8");
      } catch (IllegalArgumentException e) {
        return malformed(props, payload, destination, null, "header '" + printable(name) + "' " + e.getMessage());
      }
      if (lower.startsWith(RabbitMqHeaders.RESERVED_PREFIX)) {
        String previous = reserved.putIfAbsent(lower, value);
        if (previous != null && !previous.equals(value)) {
          // the same header twice in different case with different values: neither is trusted
          return malformed(props, payload, destination, null, "header '" + lower + "' appears twice with different values");
        }
      } else {
        application.put(name, value);
      }
    }

    String messageId = props == null ? null : props.getMessageId();
    String idText = reserved.get(RabbitMqHeaders.EVENT_ID);
    if (idText != null && messageId != null && !messageId.equals(idText)) {
      // two different ids on one message: either could be the "real" one, so neither is trusted
      return malformed(
          props,
          payload,
          destination,
          null,
          "header " + RabbitMqHeaders.EVENT_ID + " and property message-id hold different ids");
    }
    UUID id;
    try {
      id = Event.parseId(idText != null ? idText : messageId);
    } catch (InvalidEventException e) {
      return malformed(
          props,
          payload,
          destination,
          null,
          "no valid " + RabbitMqHeaders.EVENT_ID + " header or message-id property: " + e.getMessage());
    }
    String type = reserved.getOrDefault(RabbitMqHeaders.EVENT_TYPE, props == null ? null : props.getType());
    if (type == null || type.isBlank()) {
      return malformed(
          props,
          payload,
          destination,
          id,
          "no " + RabbitMqHeaders.EVENT_TYPE + " header or type property: every event needs a type");
    }
    String key = reserved.get(RabbitMqHeaders.EVENT_KEY);
    String correlationId =
        reserved.getOrDefault(RabbitMqHeaders.CORRELATION_ID, props == null ? null : props.getCorrelationId());
    String causationId = reserved.get(RabbitMqHeaders.CAUSATION_ID);
    String tooLong =
        firstTooLong("event type", type, "key", key, "correlation id", correlationId, "causation id", causationId);
    if (tooLong != null) {
      return malformed(props, payload, destination, id, tooLong);
    }
    Instant createdAt;
    String createdText = reserved.get(RabbitMqHeaders.CREATED_AT);
    if (createdText != null) {
      try {
        createdAt = Instant.parse(createdText);
      } catch (DateTimeParseException e) {
        return malformed(
            props,
            payload,
            destination,
            id,
            RabbitMqHeaders.CREATED_AT + " header is not an ISO-8601 instant: '" + printable(createdText) + "'");
      }
    } else if (props != null && props.getTimestamp() != null) {
      createdAt = props.getTimestamp().toInstant();
    } else {
      createdAt = fallbackCreatedAt;
    }
    return new Decodable(
        new Event(id, type, destination, key, payload, application, correlationId, causationId, createdAt));
  }

  private static Undecodable malformed(
      AMQP.BasicProperties props, byte[] payload, String destination, UUID id, String why) {
    return new Undecodable(
        id,
        DeadLetterReason.MALFORMED,
        new InvalidEventException("malformed message: " + why, id, destination),
        rawHeaders(props),
        payload);
  }

  /** A header value as text; throws for values that are not text or a simple scalar. */
  private static String text(Object v) throws CharacterCodingException {
    if (v == null) {
      return "";
    }
    if (v instanceof LongString ls) {
      return strictUtf8(ls.getBytes());
    }
    if (v instanceof String s) {
      return s;
    }
    if (v instanceof Number || v instanceof Boolean || v instanceof Character) {
      return v.toString();
    }
    if (v instanceof Date d) {
      return d.toInstant().toString();
    }
    throw new IllegalArgumentException("holds a " + v.getClass().getSimpleName() + " where text is expected");
  }

  private static String firstTooLong(String... namesAndValues) {
    for (int i = 0; i < namesAndValues.length; i += 2) {
      String v = namesAndValues[i + 1];
      if (v != null && v.length() > Outbox.MAX_NAME_LENGTH) {
        return namesAndValues[i] + " is " + v.length() + " characters, over the limit of " + Outbox.MAX_NAME_LENGTH;
      }
    }
    return null;
  }

  /**
   * The headers as text, for a dead letter, with the id and type properties added under their
   * header names when the headers lack them. A value that is not UTF-8 is kept as {@code
   * base64:...} so that an operator can still see exactly what arrived.
   */
  static Map<String, String> rawHeaders(AMQP.BasicProperties props) {
    Map<String, String> out = new LinkedHashMap<>();
    if (props == null) {
      return out;
    }
    if (props.getHeaders() != null) {
      for (Map.Entry<String, Object> h : props.getHeaders().entrySet()) {
        Object v = h.getValue();
        String value;
        if (v instanceof LongString ls) {
          try {
            value = strictUtf8(ls.getBytes());
          } catch (CharacterCodingException e) {
            value = "base64:" + Base64.getEncoder().encodeToString(ls.getBytes());
          }
        } else {
          value = v == null ? "" : v.toString();
        }
        out.put(h.getKey(), value);
      }
    }
    if (props.getMessageId() != null) {
      out.putIfAbsent(RabbitMqHeaders.EVENT_ID, props.getMessageId());
    }
    if (props.getType() != null) {
      out.putIfAbsent(RabbitMqHeaders.EVENT_TYPE, props.getType());
    }
    return out;
  }

  /**
   * A name for a message that has no usable event id, stable across redeliveries: the queue and a
   * digest of the body and headers. Dead letters of such messages are deduplicated on it.
   */
  static String contentSource(String queue, byte[] body, Map<String, String> rawHeaders) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(body == null ? new byte[0] : body);
      for (Map.Entry<String, String> h : new java.util.TreeMap<>(rawHeaders).entrySet()) {
        sha.update(h.getKey().getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        sha.update(h.getValue().getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
      }
      return queue + "@sha256:" + HexFormat.of().formatHex(sha.digest(), 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }

  private static UUID lenientId(String text) {
    try {
      return text == null ? null : Event.parseId(text);
    } catch (InvalidEventException e) {
      return null;
    }
  }

  private static String strictUtf8(byte[] bytes) throws CharacterCodingException {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }

  static long utf8Length(String s) {
    if (s == null) {
      return 0;
    }
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /** Text from a message, shortened and stripped of control characters, safe to put in a log line. */
  static String printable(String s) {
    String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }
}
