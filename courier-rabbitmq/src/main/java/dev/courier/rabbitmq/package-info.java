/**
 * RabbitMQ for Courier: {@link dev.courier.rabbitmq.RabbitMqTransport}, the relay's transport
 * (publisher confirms, {@code mandatory} routing with a return listener, persistent messages), and
 * {@link dev.courier.rabbitmq.RabbitMqSubscription}, which feeds a quorum queue to an {@link
 * dev.courier.inbox.IdempotentProcessor} and acknowledges each message only after its outcome is
 * committed.
 *
 * <p>On the wire an event is one message: exchange = destination (a durable topic exchange),
 * routing key = the event key (or a configured rule), body = payload, and Courier's identifiers in
 * the headers named in {@link dev.courier.rabbitmq.RabbitMqHeaders}. Each consumer reads its own
 * quorum queue {@code <destination>.<consumer>}, bound with {@code #}, with an explicit {@code
 * x-delivery-limit} and a dead-letter queue behind it.
 *
 * <p>What the pair guarantees together with the outbox and relay: at-least-once delivery and,
 * through the processed-events ledger, at most one effect per {@code (consumer, event id)}. An event
 * is marked published only when the broker confirmed it <em>and</em> routed it to a queue; RabbitMQ
 * confirms unroutable messages, so a destination without bound queues keeps its events pending and
 * eventually parks them as dead, visibly. Events reach a consumer in queue order while nothing
 * fails; a retried event is held and returned to the queue after its backoff, so it is overtaken by
 * later events (RabbitMQ mode does not promise per-key order under retries), and it never blocks
 * other events.
 */
package dev.courier.rabbitmq;
