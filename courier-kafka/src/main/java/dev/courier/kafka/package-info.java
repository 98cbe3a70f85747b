/**
 * Kafka for Courier: {@link dev.courier.kafka.KafkaTransport}, the relay's transport (idempotent
 * producer, {@code acks=all}, a result per event only after the broker's acknowledgement), and
 * {@link dev.courier.kafka.KafkaIdempotentConsumer}, which feeds records to an {@link
 * dev.courier.inbox.IdempotentProcessor} and commits offsets only after each outcome is durable.
 *
 * <p>On the wire an event is one record: topic = destination, key = ordering key, value = payload,
 * and Courier's identifiers in the headers named in {@link dev.courier.kafka.KafkaHeaders}.
 *
 * <p>What the pair guarantees together with the outbox and relay: at-least-once delivery and,
 * through the processed-events ledger, at most one effect per {@code (consumer, event id)}. Events
 * with the same key go to the same partition and are processed in partition order; an event waiting
 * for a retry holds back its partition, never other partitions. On a single broker, {@code
 * acks=all} means the broker's page cache, not a replica on another machine.
 *
 * <p><b>Kafka transactions</b> (exactly-once inside Kafka's boundary): {@link
 * dev.courier.kafka.KafkaTransactionalTransport} publishes each relay batch in one transaction
 * under a stable {@code transactional.id}, so that aborted attempts stay invisible to {@code
 * read_committed} consumers and a replaced (zombie) relay is fenced; {@link
 * dev.courier.kafka.KafkaTransactionalProcessor} consumes, transforms and produces with the outputs
 * and the consumed offsets in one transaction. Neither covers writes outside Kafka: a database
 * write or an HTTP call made while processing still needs the processed-events ledger.
 */
package dev.courier.kafka;
