package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import dev.courier.Event;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.internal.Text;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.EventHeaders;
import dev.courier.spi.ReceivedMessage;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns events into AMQP messages and messages back into events, following {@link RabbitMqHeaders}.
 * Decoding treats the message as untrusted input: its size is checked before anything is parsed,
 * text must be valid UTF-8, and nothing in it chooses a class or an SQL identifier.
 */
final class AmqpMessages {
  /** AMQP short strings (exchange, queue and routing key names, some properties). */
  static final int MAX_SHORT_STRING_BYTES = 255;

  /** The characters AMQP 0-9-1 allows in exchange and queue names. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._:-]+");

  /** AMQP messages have no key of their own: the event's key travels as a header. */
  private static final EventHeaders HEADERS = EventHeaders.KEY_AS_HEADER;

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
      return "the "
          + what
          + " name is "
          + utf8Length(name)
          + " bytes; AMQP allows at most "
          + MAX_SHORT_STRING_BYTES;
    }
    if (!NAME.matcher(name).matches()) {
      return "the "
          + what
          + " name '"
          + printable(name)
          + "' has characters AMQP does not allow; use ASCII letters, digits, '.', '_', ':' and"
          + " '-'";
    }
    return null;
  }

  /**
   * Why {@code event} cannot be a message however often it is tried, or {@code null}: its exchange
   * name, its routing key, a reserved application header, or its size.
   *
   * @param routingKey the routing key chosen for it
   * @param maxBytes the largest message, counted by {@link EventHeaders#bytes}
   */
  static String publishProblem(Event event, String routingKey, long maxBytes) {
    String problem = nameProblem("exchange", event.destination());
    if (problem == null && utf8Length(routingKey) > MAX_SHORT_STRING_BYTES) {
      problem =
          "the routing key is "
              + utf8Length(routingKey)
              + " bytes; AMQP allows at most "
              + MAX_SHORT_STRING_BYTES;
    }
    if (problem == null) {
      problem = EventHeaders.reservedHeaderProblem(event);
    }
    if (problem == null) {
      problem = brokerHeaderProblem(event);
    }
    if (problem == null) {
      problem =
          HEADERS.sizeProblem(
              event, "message", maxBytes, "RabbitMqTransport.Builder.maxMessageBytes");
    }
    return problem == null ? null : "cannot publish to RabbitMQ: " + problem;
  }

  private static String brokerHeaderProblem(Event event) {
    for (String name : event.headers().keySet()) {
      if (name.regionMatches(
          true, 0, RabbitMqHeaders.BROKER_PREFIX, 0, RabbitMqHeaders.BROKER_PREFIX.length())) {
        return "application header '"
            + printable(name)
            + "' uses the prefix '"
            + RabbitMqHeaders.BROKER_PREFIX
            + "', which is reserved for the broker's own headers";
      }
    }
    return null;
  }

  /** The properties (headers included) of the message for an event. */
  static AMQP.BasicProperties properties(Event event, boolean persistent) {
    Map<String, Object> headers = new LinkedHashMap<>();
    HEADERS.write(event, headers::put);
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
   * Decodes a message into an event. Header names match in any case; the broker's own headers
   * ({@code x-...}) are left out, and the AMQP properties stand in for missing Courier headers.
   *
   * @param destination the destination the subscription consumes, which becomes the event's
   * @param maxBytes messages carrying more bytes than this are {@link DeadLetterReason#OVERSIZED}
   *     and are not parsed further
   * @param fallbackCreatedAt the creation time to use when the message carries none
   */
  static Decoded decode(
      byte[] body,
      AMQP.BasicProperties props,
      String destination,
      long maxBytes,
      Instant fallbackCreatedAt) {
    byte[] payload = body == null ? new byte[0] : body;
    ReceivedMessage in =
        ReceivedMessage.of("message", true, destination, payload, () -> rawHeaders(props));
    long size = messageBytes(payload, props);
    if (size > maxBytes) {
      return in.oversized(size, maxBytes, "SubscriptionSpec.maxRecordBytes");
    }

    Map<String, Object> headers =
        props == null || props.getHeaders() == null ? Map.of() : props.getHeaders();
    for (Map.Entry<String, Object> h : headers.entrySet()) {
      String name = h.getKey();
      if (name.toLowerCase(Locale.ROOT).startsWith(RabbitMqHeaders.BROKER_PREFIX)) {
        continue; // the broker's bookkeeping (x-delivery-count, x-death, ...), not the event's
      }
      String value;
      try {
        value = text(h.getValue());
      } catch (CharacterCodingException e) {
        return in.malformed(null, "header '" + printable(name) + "' is not valid UTF-8");
      } catch (IllegalArgumentException e) {
        return in.malformed(null, "header '" + printable(name) + "' " + e.getMessage());
      }
      Undecodable conflict = in.header(name, value);
      if (conflict != null) {
        return conflict;
      }
    }
    String messageId = props == null ? null : props.getMessageId();
    String idText = in.courierHeader(RabbitMqHeaders.EVENT_ID);
    if (idText != null && messageId != null && !messageId.equals(idText)) {
      // two different ids on one message: either could be the "real" one, so neither is trusted
      return in.malformed(
          null,
          "header " + RabbitMqHeaders.EVENT_ID + " and property message-id hold different ids");
    }
    return in.key(in.courierHeader(ReceivedMessage.EVENT_KEY))
        .idOr(messageId, "message-id property")
        .typeOr(props == null ? null : props.getType(), "type property")
        .correlationIdOr(props == null ? null : props.getCorrelationId())
        .decode(
            props != null && props.getTimestamp() != null
                ? props.getTimestamp().toInstant()
                : fallbackCreatedAt);
  }

  /** A header value as text; throws for values that are not text or a simple scalar. */
  private static String text(Object v) throws CharacterCodingException {
    if (v == null) {
      return "";
    }
    if (v instanceof LongString ls) {
      return Text.strictUtf8(ls.getBytes());
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
    throw new IllegalArgumentException(
        "holds a " + v.getClass().getSimpleName() + " where text is expected");
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
          value = Text.rawText(ls.getBytes());
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

  static long utf8Length(String s) {
    return Text.utf8Length(s);
  }

  /**
   * Text from a message, shortened and stripped of control characters, safe to put in a log line.
   */
  static String printable(String s) {
    return Text.printable(s);
  }
}
