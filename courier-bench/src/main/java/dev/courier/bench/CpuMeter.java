package dev.courier.bench;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Optional;

/**
 * CPU time consumed between two points by this JVM, by the broker's JVM and by every PostgreSQL
 * server process. The PostgreSQL figure covers the whole server: on a shared machine it includes
 * other clients' work.
 */
final class CpuMeter {
  private final long brokerPid;
  private long jvmStart;
  private long brokerStart;
  private long postgresStart;

  private CpuMeter(long brokerPid) {
    this.brokerPid = brokerPid;
  }

  /** Starts measuring now. */
  static CpuMeter start(long brokerPid) {
    CpuMeter m = new CpuMeter(brokerPid);
    m.jvmStart = jvmCpuNanos();
    m.brokerStart = processCpuNanos(brokerPid);
    m.postgresStart = postgresCpuNanos();
    return m;
  }

  /** CPU used since {@link #start}, in nanoseconds; -1 where it cannot be read. */
  Usage stop() {
    long jvm = jvmCpuNanos() - jvmStart;
    long broker = brokerStart < 0 ? -1 : processCpuNanos(brokerPid) - brokerStart;
    long postgres = postgresStart < 0 ? -1 : postgresCpuNanos() - postgresStart;
    return new Usage(jvm, broker, postgres);
  }

  /**
   * CPU time in nanoseconds.
   *
   * @param jvm this JVM: the relay or consumer, the JDBC and Kafka clients, the benchmark itself
   * @param broker the Kafka broker's JVM
   * @param postgres all PostgreSQL server processes on the machine
   */
  record Usage(long jvm, long broker, long postgres) {
    /** Milliseconds per 1,000 events, or NaN when unknown. */
    static double perThousand(long nanos, long events) {
      return nanos < 0 || events <= 0 ? Double.NaN : nanos / 1e6 / events * 1000.0;
    }
  }

  static long jvmCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
  }

  static long processCpuNanos(long pid) {
    return ProcessHandle.of(pid)
        .flatMap(h -> h.info().totalCpuDuration())
        .map(Duration::toNanos)
        .orElse(-1L);
  }

  /** The summed CPU time of live processes whose executable is named postgres; -1 if none. */
  static long postgresCpuNanos() {
    long[] sum = {0};
    boolean[] any = {false};
    ProcessHandle.allProcesses()
        .forEach(
            h -> {
              Optional<String> cmd = h.info().command();
              if (cmd.isPresent() && (cmd.get().endsWith("/postgres") || cmd.get().equals("postgres"))) {
                Optional<Duration> cpu = h.info().totalCpuDuration();
                if (cpu.isPresent()) {
                  sum[0] += cpu.get().toNanos();
                  any[0] = true;
                }
              }
            });
    return any[0] ? sum[0] : -1;
  }
}
