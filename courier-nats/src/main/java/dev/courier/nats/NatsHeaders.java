package dev.courier.nats;

import dev.courier.spi.ReceivedMessage;

/**
 * The message headers that carry an event's identity on NATS JetStream: {@link
 * dev.courier.spi.EventHeaders}, the same names and order on every broker, so a person reading any
 * broker sees the same fields. NATS has no record key, so the ordering key travels in {@link
 * #EVENT_KEY}, as on RabbitMQ.
 *
 * <p>NATS header values must be printable ASCII. A value that is not (or that starts with {@code
 * =?}) is sent as an RFC 2047 encoded word, {@code =?utf-8?b?<base64 of the UTF-8 bytes>?=}, and
 * decoded back on consumption; every other value is sent as it is.
 *
 * <p>Every name starting with {@link #RESERVED_PREFIX} belongs to Courier and every name starting
 * with {@link #NATS_PREFIX} belongs to the server ({@code Nats-Msg-Id}, {@code
 * Nats-Expected-Stream}, ...): {@link JetStreamTransport} refuses an event whose application
 * headers use either prefix, in any case, and a subscription does not hand such headers to
 * handlers.
 *
 * <p>Producers that are not Courier can publish events a Courier consumer accepts by setting {@link
 * #EVENT_ID} (a canonical UUID) and {@link #EVENT_TYPE}; the others are optional.
 */
public final class NatsHeaders {
  private NatsHeaders() {}

  /** The prefix of every header name Courier reserves. */
  public static final String RESERVED_PREFIX = ReceivedMessage.RESERVED_PREFIX;

  /** The prefix of the header names the NATS server gives meaning to. */
  public static final String NATS_PREFIX = "Nats-";

  /**
   * The server's deduplication header. The transport sets it to the event id, so a republish of the
   * same event inside the stream's duplicate window is stored once.
   */
  public static final String MSG_ID = "Nats-Msg-Id";

  /** The event id, a canonical UUID; consumers deduplicate on it. Required. */
  public static final String EVENT_ID = ReceivedMessage.EVENT_ID;

  /** The event type. Required. */
  public static final String EVENT_TYPE = ReceivedMessage.EVENT_TYPE;

  /** The correlation id; present only when the event has one. */
  public static final String CORRELATION_ID = ReceivedMessage.CORRELATION_ID;

  /** The causation id; present only when the event has one. */
  public static final String CAUSATION_ID = ReceivedMessage.CAUSATION_ID;

  /** When the event was written, as an ISO-8601 instant. Optional for foreign producers. */
  public static final String CREATED_AT = ReceivedMessage.CREATED_AT;

  /**
   * The ordering key; present only when the event has one. The same header as on RabbitMQ: NATS has
   * no record key.
   */
  public static final String EVENT_KEY = ReceivedMessage.EVENT_KEY;

  /**
   * The name the ordering key had on NATS before it was {@link #EVENT_KEY}. Never written any more;
   * a subscription still reads it from messages that lack {@link #EVENT_KEY}, so that messages
   * published before the change keep their key.
   */
  public static final String LEGACY_KEY = "courier-key";
}
