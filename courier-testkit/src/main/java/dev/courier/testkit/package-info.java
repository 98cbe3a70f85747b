/**
 * Real engines for Courier's tests, on top of the engines of {@code courier-embedded} ({@code dev.courier.embedded}).
 *
 * <ul>
 *   <li>{@link dev.courier.testkit.TestDatabase}: PostgreSQL named by {@code COURIER_DB_URL}, else the local server,
 *       else an embedded one, with a fresh schema per test ({@link dev.courier.embedded.LocalDatabase} for tests);</li>
 *   <li>{@link dev.courier.testkit.OutageDataSource}: a real data source behind a switch that makes the database
 *       unreachable, and {@link dev.courier.testkit.SqlRows}: plain queries to check what Courier wrote;</li>
 *   <li>{@link dev.courier.testkit.TestClock}: a clock the test moves by hand, and {@link
 *       dev.courier.testkit.RecordingThreadFactory}: a thread factory that remembers what it made, to check that a
 *       component uses the clock and the threads it was given;</li>
 *   <li>{@link dev.courier.testkit.Servers}: skip a test loudly when a server it needs is missing, or fail it on
 *       CI.</li>
 * </ul>
 *
 * <p>The embedded Kafka broker ({@link dev.courier.embedded.EmbeddedKafka}), the shared Kafka cluster of a test JVM
 * ({@link dev.courier.embedded.KafkaEndpoint}) and child JVMs to kill and pause
 * ({@link dev.courier.embedded.ChildProcess}) live in {@code courier-embedded}, which the test kit depends on.
 */
package dev.courier.testkit;
