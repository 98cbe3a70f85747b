package dev.courier.nats;

import dev.courier.Event;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.internal.Text;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.EventHeaders;
import dev.courier.spi.ReceivedMessage;
import io.nats.client.Message;
import io.nats.client.impl.Headers;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns events into NATS messages and messages back into events, following {@link NatsHeaders}.
 * Decoding treats the message as untrusted input: its size is checked before anything is parsed,
 * encoded words must be valid base64 of valid UTF-8, and nothing in a message chooses a class or an
 * SQL identifier.
 */
final class NatsMessages {
  /** The longest subject accepted; the server has no hard limit, but stream configs carry them. */
  static final int MAX_SUBJECT_LENGTH = 255;

  private static final Pattern ENCODED_WORD =
      Pattern.compile("=\\?utf-8\\?b\\?([A-Za-z0-9+/]*={0,2})\\?=", Pattern.CASE_INSENSITIVE);

  /** NATS messages have no key of their own: the event's key travels as a header. */
  private static final EventHeaders HEADERS = EventHeaders.KEY_AS_HEADER;

  private NatsMessages() {}

  /**
   * Why {@code subject} cannot be an event's destination, or {@code null} if it can. Wildcards are
   * refused (a publish goes to one subject), and so are subjects starting with {@code $}, which
   * belong to the server's own APIs ({@code $JS.API...}): an event must never be able to call them.
   */
  static String subjectProblem(String subject) {
    if (subject == null || subject.isEmpty()) {
      return "the subject is empty";
    }
    if (subject.length() > MAX_SUBJECT_LENGTH) {
      return "the subject is "
          + subject.length()
          + " characters; at most "
          + MAX_SUBJECT_LENGTH
          + " are accepted";
    }
    if (subject.startsWith("$")) {
      return "the subject '"
          + printable(subject)
          + "' starts with '$', which is reserved for the server's APIs";
    }
    for (int i = 0; i < subject.length(); i++) {
      char c = subject.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == '*' || c == '>') {
        return "the subject '"
            + printable(subject)
            + "' has a wildcard, a space or a character outside printable ASCII";
      }
    }
    if (subject.startsWith(".") || subject.endsWith(".") || subject.contains("..")) {
      return "the subject '" + printable(subject) + "' has an empty token";
    }
    return null;
  }

  /**
   * Why {@code event} cannot be a message however often it is tried, or {@code null}: its subject,
   * or an application header that NATS cannot carry or whose name is reserved. (Its size depends on
   * the stream; the transport checks it.)
   */
  static String publishProblem(Event event) {
    String problem = subjectProblem(event.destination());
    if (problem == null) {
      problem = EventHeaders.reservedHeaderProblem(event);
    }
    if (problem == null) {
      problem = headerNameProblem(event);
    }
    return problem == null ? null : "cannot publish to NATS: " + problem;
  }

  /** The first application header whose name NATS cannot carry or gives meaning to, or null. */
  private static String headerNameProblem(Event event) {
    for (String name : event.headers().keySet()) {
      if (startsWithIgnoreCase(name, NatsHeaders.NATS_PREFIX)) {
        return "application header '"
            + printable(name)
            + "' uses the prefix '"
            + NatsHeaders.NATS_PREFIX
            + "', which the NATS server gives meaning to (for example Nats-Expected-Stream)";
      }
      if (name.isEmpty()) {
        return "an application header has an empty name";
      }
      for (int i = 0; i < name.length(); i++) {
        char c = name.charAt(i);
        if (c <= ' ' || c >= 0x7f || c == ':') {
          return "application header name '"
              + printable(name)
              + "' has a character NATS does not allow in header names (space, ':', control or"
              + " non-ASCII)";
        }
      }
    }
    return null;
  }

  /**
   * The {@code Nats-Msg-Id} of an event: its id, followed by {@code @} and the replay id for an
   * event put back in the outbox by a replay ({@link ReceivedMessage#REPLAY_ID}). The stream drops
   * a message whose id it stored inside its duplicate window; a replay of an event published a
   * moment ago must still reach the consumers, while a republish of the replay itself is still
   * dropped.
   */
  static String messageId(Event event) {
    String replayId = event.headers().get(ReceivedMessage.REPLAY_ID);
    return replayId == null ? event.id().toString() : encodeValue(event.id() + "@" + replayId);
  }

  /**
   * The headers that carry {@code event}: the message id, then {@link EventHeaders}' (the key among
   * them), each value as {@link #encodeValue} writes it.
   */
  static Headers headers(Event event) {
    Headers h = new Headers();
    h.put(NatsHeaders.MSG_ID, messageId(event));
    HEADERS.write(event, (name, value) -> h.put(name, encodeValue(value)));
    return h;
  }

  /** A header value NATS can carry: as it is when printable ASCII, else as an encoded word. */
  static String encodeValue(String value) {
    boolean plain = !value.startsWith("=?");
    for (int i = 0; plain && i < value.length(); i++) {
      char c = value.charAt(i);
      plain = c >= ' ' && c < 0x7f;
    }
    if (plain) {
      return value;
    }
    return "=?utf-8?b?"
        + Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8))
        + "?=";
  }

  /**
   * Decodes a header value written by {@link #encodeValue}.
   *
   * @throws CharacterCodingException if it is an encoded word whose bytes are not UTF-8
   * @throws IllegalArgumentException if it is an encoded word whose base64 is invalid
   */
  static String decodeValue(String value) throws CharacterCodingException {
    Matcher m = ENCODED_WORD.matcher(value);
    if (!m.matches()) {
      return value;
    }
    return Text.strictUtf8(Base64.getDecoder().decode(m.group(1)));
  }

  /** The bytes a received message carries: data plus serialized headers. */
  static long messageBytes(Message message) {
    byte[] data = message.getData();
    long size = data == null ? 0 : data.length;
    if (message.hasHeaders()) {
      size += message.getHeaders().serializedLength();
    }
    return size;
  }

  /**
   * Decodes a message into an event. Header names match in any case; the server's own headers
   * ({@code Nats-Msg-Id}, ...) are not the application's and are left out.
   *
   * @param maxRecordBytes messages carrying more bytes than this are {@link
   *     DeadLetterReason#OVERSIZED} and are not parsed further
   * @param fallbackCreatedAt the creation time when the message has no {@link
   *     NatsHeaders#CREATED_AT} header
   */
  static Decoded decode(Message message, long maxRecordBytes, Instant fallbackCreatedAt) {
    byte[] data = message.getData() == null ? new byte[0] : message.getData();
    ReceivedMessage in =
        ReceivedMessage.of("message", true, message.getSubject(), data, () -> rawHeaders(message));
    long size = messageBytes(message);
    if (size > maxRecordBytes) {
      return in.oversized(size, maxRecordBytes, "SubscriptionSpec.maxRecordBytes");
    }
    if (message.hasHeaders()) {
      for (Map.Entry<String, List<String>> h : message.getHeaders().entrySet()) {
        String name = h.getKey();
        List<String> values = h.getValue();
        if (startsWithIgnoreCase(name, NatsHeaders.NATS_PREFIX)) {
          continue; // the server's own (Nats-Msg-Id, ...), not the application's
        }
        if (startsWithIgnoreCase(name, NatsHeaders.RESERVED_PREFIX)
            && values.size() > 1
            && values.stream().distinct().count() > 1) {
          // Two different ids (or types) on one message: either could be the real one.
          return in.malformed(
              null, "header '" + printable(name) + "' appears twice with different values");
        }
        String value;
        try {
          value = decodeValue(values.isEmpty() ? "" : values.get(values.size() - 1));
        } catch (CharacterCodingException | IllegalArgumentException e) {
          return in.malformed(
              null, "header '" + printable(name) + "' is an encoded word that is not UTF-8 base64");
        }
        Undecodable conflict = in.header(name, value);
        if (conflict != null) {
          return conflict;
        }
      }
    }
    String key = in.courierHeader(NatsHeaders.EVENT_KEY);
    if (key == null) {
      key = in.courierHeader(NatsHeaders.LEGACY_KEY);
    }
    return in.key(key).decode(fallbackCreatedAt);
  }

  /** The headers as received, for a dead letter; repeated names are joined with commas. */
  static Map<String, String> rawHeaders(Message message) {
    Map<String, String> out = new LinkedHashMap<>();
    if (message.hasHeaders()) {
      message.getHeaders().forEach((name, values) -> out.put(name, String.join(",", values)));
    }
    return out;
  }

  private static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }

  /** Text from a message, shortened and stripped of control characters, safe for a log line. */
  static String printable(String s) {
    return Text.printable(s);
  }
}
