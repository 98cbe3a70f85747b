/**
 * Real engines for Courier's tests and demo.
 *
 * <ul>
 *   <li>{@link dev.courier.testkit.EmbeddedKafka}: a single-node KRaft Kafka broker running in a child JVM, so that
 *       tests can kill, pause and restart it like a real server;</li>
 *   <li>{@link dev.courier.testkit.KafkaEndpoint}: an external cluster named by {@code COURIER_KAFKA_BOOTSTRAP}, or
 *       else one shared embedded broker per JVM;</li>
 *   <li>{@link dev.courier.testkit.TestDatabase}: PostgreSQL named by {@code COURIER_DB_URL}, else the local server,
 *       else an embedded one, with a fresh schema per test;</li>
 *   <li>{@link dev.courier.testkit.OutageDataSource}: a real data source behind a switch that makes the database
 *       unreachable, and {@link dev.courier.testkit.SqlRows}: plain queries to check what Courier wrote;</li>
 *   <li>{@link dev.courier.testkit.Servers}: skip a test loudly when a server it needs is missing, or fail it on
 *       CI.</li>
 * </ul>
 */
package dev.courier.testkit;
