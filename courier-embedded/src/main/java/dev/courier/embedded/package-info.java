/**
 * Real engines started in-process or as child processes, for the {@code courier demo} command and for tests; no test
 * framework is needed to use them.
 *
 * <ul>
 *   <li>{@link dev.courier.embedded.EmbeddedKafka}: a single-node KRaft Kafka broker running in a child JVM, which can
 *       be killed, paused and restarted like a real server;</li>
 *   <li>{@link dev.courier.embedded.KafkaEndpoint}: an external cluster named by {@code COURIER_KAFKA_BOOTSTRAP}, or
 *       else one shared embedded broker per JVM;</li>
 *   <li>{@link dev.courier.embedded.LocalDatabase}: PostgreSQL named by {@code COURIER_DB_URL}, else the local server,
 *       else an embedded one, where each user takes a fresh schema;</li>
 *   <li>{@link dev.courier.embedded.ChildProcess}: a child JVM running a given class on this JVM's class path, which
 *       halts when its parent dies;</li>
 *   <li>{@link dev.courier.embedded.Reachability}: whether a server answers on a TCP port.</li>
 * </ul>
 *
 * <p>The test kit ({@code courier-testkit}) builds on these: its {@code TestDatabase} skips a test, or fails it on CI,
 * when no database can be had.
 */
package dev.courier.embedded;
