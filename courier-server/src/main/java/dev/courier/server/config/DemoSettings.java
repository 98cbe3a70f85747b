package dev.courier.server.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The worked example's load and faults.
 *
 * @param duration how long orders are written
 * @param warmUp how long orders are written before that, while the JVM compiles the hot paths; they
 *     count in every check but not in the latency figures
 * @param ratePerSecond orders attempted per second (committed and rolled back together)
 * @param rollbackRate the fraction of checkout transactions rolled back after appending their event
 * @param dropConfirmRate the fraction of broker confirmations the relay is told failed
 * @param consumerCrashRate the chance, per applied event, that a consumer crashes between its
 *     database commit and its offset commit
 * @param writers concurrent checkout transactions at most
 * @param partitions partitions of the demo topic
 * @param topic the demo topic
 * @param drainTimeout how long to wait, after the load, for every event to be applied
 * @param progressInterval how often progress is printed
 * @param workDir where the demo keeps its log
 * @param keep whether to keep the run's database schema afterwards
 * @param jsonLogs whether JSON logs go to standard output instead of the log file
 */
public record DemoSettings(
    Duration duration,
    Duration warmUp,
    double ratePerSecond,
    double rollbackRate,
    double dropConfirmRate,
    double consumerCrashRate,
    int writers,
    int partitions,
    String topic,
    Duration drainTimeout,
    Duration progressInterval,
    Path workDir,
    boolean keep,
    boolean jsonLogs) {}
