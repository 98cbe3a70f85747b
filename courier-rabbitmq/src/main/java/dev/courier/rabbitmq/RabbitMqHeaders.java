package dev.courier.rabbitmq;

import dev.courier.spi.ReceivedMessage;

/**
 * The message headers that carry an event's identity on RabbitMQ: {@link
 * dev.courier.spi.EventHeaders}, the same names and order on every broker, with text values ({@code
 * longstr}). Every name starting with {@link #RESERVED_PREFIX} belongs to Courier, and every name
 * starting with {@link #BROKER_PREFIX} to the broker: {@link RabbitMqTransport} refuses an event
 * whose application headers use either, and a subscription does not hand such headers to handlers
 * as application headers.
 *
 * <p>Besides the headers, each message carries the AMQP properties {@code message-id} (the event
 * id), {@code type} (the event type), {@code timestamp} (the creation time, whole seconds), {@code
 * correlation-id} and {@code delivery-mode} 2 (persistent). Producers that are not Courier can
 * publish events a Courier consumer accepts by setting {@link #EVENT_ID} (or {@code message-id}) to
 * a canonical UUID and {@link #EVENT_TYPE} (or {@code type}); the rest is optional.
 */
public final class RabbitMqHeaders {
  private RabbitMqHeaders() {}

  /** The prefix of every header name Courier reserves. */
  public static final String RESERVED_PREFIX = ReceivedMessage.RESERVED_PREFIX;

  /** The prefix of header names the broker sets or interprets ({@code x-delivery-count}, ...). */
  public static final String BROKER_PREFIX = "x-";

  /** The event id, a canonical UUID; consumers deduplicate on it. Required. */
  public static final String EVENT_ID = ReceivedMessage.EVENT_ID;

  /** The event type. Required. */
  public static final String EVENT_TYPE = ReceivedMessage.EVENT_TYPE;

  /**
   * The event's ordering key; present only when the event has one. RabbitMQ has no record key, and
   * the routing key is chosen by the transport's routing rule, so the key travels as a header.
   */
  public static final String EVENT_KEY = ReceivedMessage.EVENT_KEY;

  /** The correlation id; present only when the event has one. */
  public static final String CORRELATION_ID = ReceivedMessage.CORRELATION_ID;

  /** The causation id; present only when the event has one. */
  public static final String CAUSATION_ID = ReceivedMessage.CAUSATION_ID;

  /**
   * When the event was written, as an ISO-8601 instant ({@code 2025-01-31T12:00:00.123456Z}). The
   * AMQP {@code timestamp} property carries the same instant in whole seconds.
   */
  public static final String CREATED_AT = ReceivedMessage.CREATED_AT;

  /**
   * Set by quorum queues on a redelivered message: how often it was delivered before. A
   * subscription derives the processing attempt from it.
   */
  public static final String DELIVERY_COUNT = "x-delivery-count";
}
