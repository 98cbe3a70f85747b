/**
 * The chaos kit: what it takes to prove Courier's delivery guarantees under real faults, for Courier's own tests and
 * for users' CI.
 *
 * <ul>
 *   <li>{@link dev.courier.testkit.chaos.FaultProxy}: a TCP proxy that injects latency, blackholes, resets,
 *       half-open connections and sliced writes at runtime;</li>
 *   <li>{@link dev.courier.testkit.chaos.ProcessHarness}: writers, relays and consumers as child JVMs to kill with
 *       SIGKILL, freeze with SIGSTOP and restart, with a record of every fault;</li>
 *   <li>{@link dev.courier.testkit.chaos.DeliveryChecker}: judges a run's {@link dev.courier.testkit.chaos.History},
 *       read from database truth by {@link dev.courier.testkit.chaos.ChaosTables}, and reports lost, unexpected and
 *       duplicated effects, unexpected dead letters, order violations, wire duplicates and drain time.</li>
 * </ul>
 *
 * <p>See {@code docs/RELIABILITY.md} for the scenarios built on it.
 */
package dev.courier.testkit.chaos;
