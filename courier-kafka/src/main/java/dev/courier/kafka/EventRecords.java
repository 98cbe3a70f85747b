package dev.courier.kafka;

import dev.courier.Event;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.internal.Text;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.EventHeaders;
import dev.courier.spi.ReceivedMessage;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Turns events into records and records back into events, following {@link KafkaHeaders}: the
 * headers are {@link EventHeaders}' as UTF-8, the ordering key is the record key. Decoding treats
 * the record as untrusted input: its size is checked before anything is parsed, text must be valid
 * UTF-8, and nothing in it chooses a class or an SQL identifier.
 */
final class EventRecords {
  /** Kafka's rule for topic names: legal characters and at most 249 of them. */
  static final int MAX_TOPIC_LENGTH = 249;

  /** Kafka records have a key of their own: the event's key is the record key, not a header. */
  private static final EventHeaders HEADERS = EventHeaders.KEY_AS_RECORD_KEY;

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

  /**
   * Kafka's legal topic characters: ASCII letters, digits, '.', '_' and '-' (checked per event).
   */
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
   * Why {@code event} cannot be published however often it is tried, or {@code null}: its topic
   * name, a reserved application header, or its size (key, value, header names and values, counted
   * by {@link EventHeaders}).
   *
   * @param limitSetting the builder setting of {@code maxRecordBytes}, for the message
   */
  static String publishProblem(Event event, int maxRecordBytes, String limitSetting) {
    return publishProblem(event, maxRecordBytes, limitSetting, false);
  }

  /**
   * The same, skipping the topic check when the caller has just found this event's topic legal (a
   * batch's events mostly share one).
   */
  static String publishProblem(
      Event event, int maxRecordBytes, String limitSetting, boolean topicChecked) {
    String problem = topicChecked ? null : topicProblem(event.destination());
    if (problem == null) {
      problem = EventHeaders.reservedHeaderProblem(event);
    }
    if (problem == null) {
      problem = HEADERS.sizeProblem(event, "record", maxRecordBytes, limitSetting);
    }
    return problem == null ? null : "cannot publish to Kafka: " + problem;
  }

  /** The record for an event. The record timestamp is left to the producer (the send time). */
  static ProducerRecord<byte[], byte[]> toRecord(Event event) {
    RecordHeaders headers = new RecordHeaders();
    HEADERS.write(event, (name, value) -> headers.add(name, utf8(value)));
    byte[] key = event.key() == null ? null : utf8(event.key());
    return new ProducerRecord<>(event.destination(), null, null, key, event.payload(), headers);
  }

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
   * Decodes a record into an event. Kafka header names are case-sensitive, and so are Courier's
   * here; the ordering key is the record key.
   *
   * @param maxRecordBytes records carrying more bytes than this are {@link
   *     DeadLetterReason#OVERSIZED} and are not parsed further
   * @param fallbackCreatedAt the creation time to use when the record has no {@link
   *     KafkaHeaders#CREATED_AT} header and no usable timestamp
   */
  static Decoded decode(
      ConsumerRecord<byte[], byte[]> record, long maxRecordBytes, Instant fallbackCreatedAt) {
    ReceivedMessage in =
        ReceivedMessage.of(
            "record", false, record.topic(), record.value(), () -> rawHeaders(record));
    long size = recordBytes(record);
    if (size > maxRecordBytes) {
      return in.oversized(size, maxRecordBytes, "KafkaIdempotentConsumer.Builder.maxRecordBytes");
    }
    for (Header h : record.headers()) {
      String value;
      try {
        value = h.value() == null ? "" : Text.strictUtf8(h.value());
      } catch (CharacterCodingException e) {
        return in.malformed(null, "header '" + printable(h.key()) + "' is not valid UTF-8");
      }
      Undecodable conflict = in.header(h.key(), value);
      if (conflict != null) {
        return conflict;
      }
    }
    try {
      in.key(record.key() == null ? null : Text.strictUtf8(record.key()));
    } catch (CharacterCodingException e) {
      in.unreadableKey("the record key is not valid UTF-8");
    }
    // A producer that is not Courier may omit the creation time; the broker's timestamp is the
    // best estimate.
    return in.decode(
        record.timestamp() >= 0 ? Instant.ofEpochMilli(record.timestamp()) : fallbackCreatedAt);
  }

  /**
   * The headers as text, for a dead letter. A value that is not UTF-8 is kept as {@code base64:...}
   * so that an operator can still see exactly what arrived.
   */
  static Map<String, String> rawHeaders(ConsumerRecord<byte[], byte[]> record) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Header h : record.headers()) {
      out.merge(h.key(), Text.rawText(h.value()), (a, b) -> a + "," + b);
    }
    return out;
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static long utf8Length(String s) {
    return Text.utf8Length(s);
  }

  /**
   * Text from a record, shortened and stripped of control characters, safe to put in a log line.
   */
  static String printable(String s) {
    return Text.printable(s);
  }
}
