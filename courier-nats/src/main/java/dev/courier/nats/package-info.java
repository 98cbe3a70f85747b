/**
 * NATS JetStream for Courier: {@link dev.courier.nats.JetStreamTransport}, the relay's transport
 * and the consumers' subscription in one adapter.
 *
 * <p>On the wire an event is one message: subject = destination, data = payload, {@code
 * Nats-Msg-Id} = event id, and Courier's identifiers in the headers named in {@link
 * dev.courier.nats.NatsHeaders}. Each destination is captured by one stream.
 *
 * <p>What it guarantees together with the outbox, the relay and the processed-events ledger:
 * at-least-once delivery and at most one effect per {@code (consumer, event id)}. JetStream's
 * duplicate window removes republishes of one event inside the window (reported per publish as a
 * broker duplicate); the ledger removes every other duplicate, including republishes after the
 * window and redeliveries after a crash between commit and ack. Consumers ack only after the
 * outcome is committed, bound redeliveries with an explicit MaxDeliver, send in-progress acks while
 * a handler runs, and terminate dead-lettered messages. Ordering: a stream keeps publish order, and
 * a subscription processes a fetched batch in stream order; an event waiting for a retry (a nak
 * with a delay) is redelivered after later events of the subject, so per-key order holds only until
 * the first retry. With one replica on one server, a PubAck means one machine's file system.
 */
package dev.courier.nats;
