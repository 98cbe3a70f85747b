package dev.courier.kafka;

import dev.courier.spi.ReceivedMessage;

/**
 * The record headers that carry an event's identity on Kafka. Values are UTF-8 text. Every name
 * starting with {@link #RESERVED_PREFIX} belongs to Courier: {@link KafkaTransport} refuses an
 * event whose application headers use it, and {@link KafkaIdempotentConsumer} does not hand such
 * headers to handlers as application headers. The exceptions are the replay headers {@link
 * ReceivedMessage#REPLAY_ID} and {@link ReceivedMessage#REPLAY_CONSUMER}, which a replay to one
 * consumer puts in the event's headers and which travel as they are.
 *
 * <p>Producers that are not Courier can publish events a Courier consumer accepts by setting {@link
 * #EVENT_ID} (a canonical UUID) and {@link #EVENT_TYPE}; the others are optional.
 */
public final class KafkaHeaders {
  private KafkaHeaders() {}

  /** The prefix of every header name Courier reserves. */
  public static final String RESERVED_PREFIX = ReceivedMessage.RESERVED_PREFIX;

  /** The event id, a canonical UUID; consumers deduplicate on it. Required. */
  public static final String EVENT_ID = ReceivedMessage.EVENT_ID;

  /** The event type. Required. */
  public static final String EVENT_TYPE = ReceivedMessage.EVENT_TYPE;

  /** The correlation id; present only when the event has one. */
  public static final String CORRELATION_ID = ReceivedMessage.CORRELATION_ID;

  /** The causation id; present only when the event has one. */
  public static final String CAUSATION_ID = ReceivedMessage.CAUSATION_ID;

  /**
   * When the event was written, as an ISO-8601 instant ({@code 2025-01-31T12:00:00.123456Z}).
   * Carried as a header rather than as the record timestamp, because the broker's retention works
   * on record timestamps: an old event published late (after a retry or a replay) would otherwise
   * be eligible for deletion the moment it arrives.
   */
  public static final String CREATED_AT = ReceivedMessage.CREATED_AT;
}
