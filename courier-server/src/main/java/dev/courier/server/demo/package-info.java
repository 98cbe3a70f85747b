/**
 * {@code courier demo}: the worked example of the guaranteed path with faults injected (rolled-back
 * transactions, lost broker confirmations, consumer crashes between database commit and broker
 * acknowledgement) on Kafka, RabbitMQ or NATS JetStream through the transport SPI, and a report
 * that checks no loss, no phantom and no double effect.
 */
package dev.courier.server.demo;
