package dev.courier.bench;

import dev.courier.Event;
import dev.courier.UuidV7;
import dev.courier.kafka.KafkaHeaders;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.SplittableRandom;
import java.util.UUID;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/** The business rows, events and records every workload writes, so that variants write the same bytes. */
final class BenchEvents {
  static final String TYPE = "OrderPlaced";
  static final String INSERT_ORDER =
      "INSERT INTO bench_orders (id, customer, amount, created_at) VALUES (?, ?, ?, ?)";
  static final String INSERT_EFFECT =
      "INSERT INTO bench_effects (event_id, amount, applied_at) VALUES (?, ?, ?)";

  private BenchEvents() {}

  /** A payload of {@code size} pseudo-random bytes (incompressible, like real JSON after a codec would not be). */
  static byte[] payload(int size, long seed) {
    byte[] b = new byte[size];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  /** A payload of {@code size} bytes whose first 8 carry {@code nanos} (W3's intended send time). */
  static byte[] stampedPayload(int size, long nanos) {
    byte[] b = new byte[Math.max(size, Long.BYTES)];
    ByteBuffer.wrap(b).putLong(nanos);
    return b;
  }

  /**
   * A payload carrying {@code due} in its first 8 bytes and {@code started} (when the writer began
   * the transaction, {@link System#nanoTime()}) in the next 8.
   */
  static byte[] stampedPayload(int size, long due, long started) {
    byte[] b = new byte[Math.max(size, 2 * Long.BYTES)];
    ByteBuffer.wrap(b).putLong(due).putLong(started);
    return b;
  }

  static long stamp(byte[] payload) {
    return ByteBuffer.wrap(payload).getLong();
  }

  /** The second stamp of {@link #stampedPayload(int, long, long)}, or 0 for a payload without one. */
  static long startedStamp(byte[] payload) {
    return payload.length >= 2 * Long.BYTES ? ByteBuffer.wrap(payload).getLong(Long.BYTES) : 0;
  }

  /** The business row's id: unique per client and sequence number. */
  static long orderId(int client, long seq) {
    return ((long) client << 40) | seq;
  }

  /** The ordering key of an order's events: one key per order, as an order service would use. */
  static String key(long orderId) {
    return "order-" + orderId;
  }

  static void insertOrder(Connection c, long orderId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(INSERT_ORDER)) {
      ps.setLong(1, orderId);
      ps.setString(2, "customer-" + (orderId % 1000));
      ps.setLong(3, orderId % 10_000);
      ps.setTimestamp(4, Timestamp.from(Instant.now()));
      ps.executeUpdate();
    }
  }

  /** The business rows {@code orderIds}, in one JDBC batch. */
  static void insertOrders(Connection c, long[] orderIds) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(INSERT_ORDER)) {
      Timestamp now = Timestamp.from(Instant.now());
      for (long orderId : orderIds) {
        ps.setLong(1, orderId);
        ps.setString(2, "customer-" + (orderId % 1000));
        ps.setLong(3, orderId % 10_000);
        ps.setTimestamp(4, now);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  static void insertEffect(Connection c, UUID eventId, long amount) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(INSERT_EFFECT)) {
      ps.setObject(1, eventId);
      ps.setLong(2, amount);
      ps.setTimestamp(3, Timestamp.from(Instant.now()));
      ps.executeUpdate();
    }
  }

  /** The event an order service appends through Courier. */
  static Event.Builder event(String destination, long orderId, byte[] payload) {
    return Event.builder(TYPE)
        .destination(destination)
        .key(key(orderId))
        .payload(payload)
        .correlationId("corr-" + orderId);
  }

  /**
   * The record Courier's Kafka transport would send for such an event: same topic, key, value and
   * identity headers. Used by the ceilings and to feed consumers without a relay.
   */
  static ProducerRecord<byte[], byte[]> record(String topic, UUID eventId, long orderId, byte[] payload) {
    RecordHeaders headers = new RecordHeaders();
    headers.add(KafkaHeaders.EVENT_ID, utf8(eventId.toString()));
    headers.add(KafkaHeaders.EVENT_TYPE, utf8(TYPE));
    headers.add(KafkaHeaders.CORRELATION_ID, utf8("corr-" + orderId));
    headers.add(KafkaHeaders.CREATED_AT, utf8(Instant.now().toString()));
    return new ProducerRecord<>(topic, null, null, utf8(key(orderId)), payload, headers);
  }

  static UUID newId() {
    return UuidV7.next();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
