/**
 * Courier's benchmarks: every figure is a ratio to a ceiling measured on the same machine in the
 * same run (PostgreSQL's commit rate, Kafka's confirmed publish rate, the same work done without
 * Courier), reported as min / median / max over several runs. {@link dev.courier.bench.BenchMain}
 * is the command line; {@link dev.courier.bench.Bench} runs the workloads and returns a {@link
 * dev.courier.bench.BenchReport}.
 *
 * <p>Nothing here is API: the module exists to produce {@code docs/BENCHMARKS.md} and must not be
 * depended on.
 */
package dev.courier.bench;
