package dev.courier.kafka;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.outbox.Outbox;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Turns events into records and records back into events, following {@link KafkaHeaders}. Decoding
 * treats the record as untrusted input: its size is checked before anything is parsed, text must be
 * valid UTF-8, and nothing in it chooses a class or an SQL identifier.
 */
final class EventRecords {
  /** Kafka's rule for topic names: legal characters and at most 249 of them. */
  static final int MAX_TOPIC_LENGTH = 249;

  private EventRecords() {}

  /**
   * Why {@code topic} cannot be a Kafka topic name, or {@code null} if it can.
   *
   * @param topic a name to check
   */
  static String topicProblem(String topic) {
    if (topic == null || topic.isEmpty()) {
      return "the topic name is empty";
    }
    if (topic.length() > MAX_TOPIC_LENGTH) {
      return "the topic name is "
          + topic.length()
          + " characters; Kafka allows at most "
          + MAX_TOPIC_LENGTH;
    }
    if (topic.equals(".") || topic.equals("..")) {
      return "'" + topic + "' is not a legal topic name";
    }
    if (!legalTopicCharacters(topic)) {
      return "the topic name '"
          + printable(topic)
          + "' has characters Kafka does not allow; use ASCII letters, digits, '.', '_' and '-'";
    }
    return null;
  }

  /** Kafka's legal topic characters: ASCII letters, digits, '.', '_' and '-' (checked per event). */
  private static boolean legalTopicCharacters(String topic) {
    for (int i = 0; i < topic.length(); i++) {
      char c = topic.charAt(i);
      boolean legal =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == '-';
      if (!legal) {
        return false;
      }
    }
    return true;
  }

  /**
   * The bytes the record for {@code event} carries: key, value, and every header's name and value.
   * This is what a size limit is checked against; the broker adds a few dozen bytes of framing.
   */
  static long recordBytes(Event event) {
    long size = event.payloadSize() + utf8Length(event.key());
    size += KafkaHeaders.EVENT_ID.length() + 36;
    size += KafkaHeaders.EVENT_TYPE.length() + utf8Length(event.type());
    size += KafkaHeaders.CREATED_AT.length() + isoLength(event.createdAt());
    if (event.correlationId() != null) {
      size += KafkaHeaders.CORRELATION_ID.length() + utf8Length(event.correlationId());
    }
    if (event.causationId() != null) {
      size += KafkaHeaders.CAUSATION_ID.length() + utf8Length(event.causationId());
    }
    for (Map.Entry<String, String> h : event.headers().entrySet()) {
      size += utf8Length(h.getKey()) + utf8Length(h.getValue());
    }
    return size;
  }

  /** The first application header whose name is reserved for Courier, or {@code null}. */
  static String reservedHeader(Event event) {
    for (String name : event.headers().keySet()) {
      if (name.regionMatches(
          true, 0, KafkaHeaders.RESERVED_PREFIX, 0, KafkaHeaders.RESERVED_PREFIX.length())) {
        return name;
      }
    }
    return null;
  }

  /** The record for an event. The record timestamp is left to the producer (the send time). */
  static ProducerRecord<byte[], byte[]> toRecord(Event event) {
    RecordHeaders headers = new RecordHeaders();
    headers.add(KafkaHeaders.EVENT_ID, utf8(event.id().toString()));
    headers.add(KafkaHeaders.EVENT_TYPE, utf8(event.type()));
    if (event.correlationId() != null) {
      headers.add(KafkaHeaders.CORRELATION_ID, utf8(event.correlationId()));
    }
    if (event.causationId() != null) {
      headers.add(KafkaHeaders.CAUSATION_ID, utf8(event.causationId()));
    }
    headers.add(KafkaHeaders.CREATED_AT, utf8(event.createdAt().toString()));
    for (Map.Entry<String, String> h : event.headers().entrySet()) {
      headers.add(h.getKey(), utf8(h.getValue()));
    }
    byte[] key = event.key() == null ? null : utf8(event.key());
    return new ProducerRecord<>(event.destination(), null, null, key, event.payload(), headers);
  }

  /** The result of decoding a record: an event, or the reason it cannot be one. */
  sealed interface Decoded {}

  /** The record is a well-formed event. */
  record Decodable(Event event) implements Decoded {}

  /**
   * The record cannot be processed.
   *
   * @param eventId the event id if the record carried a valid one, else {@code null}
   * @param reason MALFORMED or OVERSIZED
   * @param error what is wrong, for the dead letter and the log
   * @param rawHeaders the headers as received, for the dead letter
   * @param rawPayload the value as received, for the dead letter
   */
  record Undecodable(
      UUID eventId,
      DeadLetterReason reason,
      InvalidEventException error,
      Map<String, String> rawHeaders,
      byte[] rawPayload)
      implements Decoded {}

  /** The number of bytes a received record carries: key, value, header names and values. */
  static long recordBytes(ConsumerRecord<byte[], byte[]> record) {
    long size =
        Math.max(0, record.serializedKeySize()) + (long) Math.max(0, record.serializedValueSize());
    for (Header h : record.headers()) {
      size += utf8Length(h.key()) + (h.value() == null ? 0 : h.value().length);
    }
    return size;
  }

  /**
   * Decodes a record into an event.
   *
   * @param maxRecordBytes records carrying more bytes than this are {@link
   *     DeadLetterReason#OVERSIZED} and are not parsed further
   * @param fallbackCreatedAt the creation time to use when the record has no {@link
   *     KafkaHeaders#CREATED_AT} header and no usable timestamp
   */
  static Decoded decode(
      ConsumerRecord<byte[], byte[]> record, long maxRecordBytes, Instant fallbackCreatedAt) {
    String topic = record.topic();
    long size = recordBytes(record);
    if (size > maxRecordBytes) {
      Map<String, String> raw = rawHeaders(record);
      UUID id = lenientId(raw.get(KafkaHeaders.EVENT_ID));
      return new Undecodable(
          id,
          DeadLetterReason.OVERSIZED,
          new InvalidEventException(
              "record carries "
                  + size
                  + " bytes, over the consumer's limit of "
                  + maxRecordBytes
                  + " bytes (KafkaIdempotentConsumer.Builder.maxRecordBytes)",
              id,
              topic),
          raw,
          record.value());
    }

    Map<String, String> reserved = new HashMap<>();
    Map<String, String> application = new LinkedHashMap<>();
    for (Header h : record.headers()) {
      String name = h.key();
      String value;
      try {
        value = h.value() == null ? "" : strictUtf8(h.value());
      } catch (CharacterCodingException e) {
        return malformed(record, null, "header '" + printable(name) + "' is not valid UTF-8");
      }
      if (name.startsWith(KafkaHeaders.RESERVED_PREFIX)) {
        String previous = reserved.putIfAbsent(name, value);
        if (previous != null && !previous.equals(value)) {
          // Two different ids (or types) on one record: either could be the "real" one, so neither
          // is trusted.
          return malformed(
              record, null, "header '" + name + "' appears twice with different values");
        }
      } else {
        application.put(name, value);
      }
    }

    UUID id;
    try {
      id = Event.parseId(reserved.get(KafkaHeaders.EVENT_ID));
    } catch (InvalidEventException e) {
      return malformed(
          record, null, "no valid " + KafkaHeaders.EVENT_ID + " header: " + e.getMessage());
    }
    String type = reserved.get(KafkaHeaders.EVENT_TYPE);
    if (type == null || type.isBlank()) {
      return malformed(
          record, id, "no " + KafkaHeaders.EVENT_TYPE + " header: every event needs a type");
    }
    String correlationId = reserved.get(KafkaHeaders.CORRELATION_ID);
    String causationId = reserved.get(KafkaHeaders.CAUSATION_ID);
    String key;
    try {
      key = record.key() == null ? null : strictUtf8(record.key());
    } catch (CharacterCodingException e) {
      return malformed(record, id, "the record key is not valid UTF-8");
    }
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
      return malformed(record, id, tooLong);
    }
    Instant createdAt;
    String createdText = reserved.get(KafkaHeaders.CREATED_AT);
    if (createdText != null) {
      try {
        createdAt = Instant.parse(createdText);
      } catch (DateTimeParseException e) {
        return malformed(
            record,
            id,
            KafkaHeaders.CREATED_AT
                + " header is not an ISO-8601 instant: '"
                + printable(createdText)
                + "'");
      }
    } else {
      // A producer that is not Courier may omit it; the broker's timestamp is the best estimate.
      createdAt =
          record.timestamp() >= 0 ? Instant.ofEpochMilli(record.timestamp()) : fallbackCreatedAt;
    }
    return new Decodable(
        new Event(
            id,
            type,
            topic,
            key,
            record.value(),
            application,
            correlationId,
            causationId,
            createdAt));
  }

  private static Undecodable malformed(ConsumerRecord<byte[], byte[]> record, UUID id, String why) {
    return new Undecodable(
        id,
        DeadLetterReason.MALFORMED,
        new InvalidEventException("malformed record: " + why, id, record.topic()),
        rawHeaders(record),
        record.value());
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

  /**
   * The headers as text, for a dead letter. A value that is not UTF-8 is kept as {@code base64:...}
   * so that an operator can still see exactly what arrived.
   */
  static Map<String, String> rawHeaders(ConsumerRecord<byte[], byte[]> record) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Header h : record.headers()) {
      String value;
      if (h.value() == null) {
        value = "";
      } else {
        try {
          value = strictUtf8(h.value());
        } catch (CharacterCodingException e) {
          value = "base64:" + Base64.getEncoder().encodeToString(h.value());
        }
      }
      out.merge(h.key(), value, (a, b) -> a + "," + b);
    }
    return out;
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

  private static final long FIRST_SECOND_OF_YEAR_0 = -62_167_219_200L;
  private static final long LAST_SECOND_OF_YEAR_9999 = 253_402_300_799L;

  /** The length of {@code Instant.toString()}, without formatting it (this runs once per event). */
  static int isoLength(Instant t) {
    // 2026-11-27T10:15:30Z is 20 characters for years 0 to 9999; the fraction, when not zero, is
    // printed in groups of three digits
    if (t.getEpochSecond() < FIRST_SECOND_OF_YEAR_0 || t.getEpochSecond() > LAST_SECOND_OF_YEAR_9999) {
      return t.toString().length();
    }
    int nanos = t.getNano();
    if (nanos == 0) {
      return 20;
    }
    if (nanos % 1_000_000 == 0) {
      return 24;
    }
    return nanos % 1_000 == 0 ? 27 : 30;
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static long utf8Length(String s) {
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

  /**
   * Text from a record, shortened and stripped of control characters, safe to put in a log line.
   */
  static String printable(String s) {
    String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }
}
