package dev.courier.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running a test's own main class on this JVM's class path, launched the way the test
 * kit launches its Kafka broker: through {@link ChildMain} (the child halts when this JVM dies)
 * with the class path of {@link JavaProcesses#currentClasspath}, and reaped when this JVM exits.
 *
 * <p>It lives in the test kit's package, in the Kafka module's tests, only to reach those
 * package-private helpers; it is a candidate for the test kit's public API.
 */
public final class ChildJvm implements AutoCloseable {
  private final String name;
  private final Process process;
  private final Path logFile;
  private final ChildReaper.Registration reaper;

  private ChildJvm(String name, Process process, Path logFile) {
    this.name = name;
    this.process = process;
    this.logFile = logFile;
    this.reaper = ChildReaper.register(process::destroyForcibly);
  }

  /**
   * Starts {@code mainClass.main(args)} in a new JVM. Its standard output and error go to a log
   * file under {@code target/child-jvms}.
   *
   * @param name a short name for the log file and messages
   * @param environment extra environment variables (for values that must not appear on a command
   *     line)
   */
  public static ChildJvm start(
      String name, Class<?> mainClass, List<String> args, Map<String, String> environment) {
    try {
      Path dir = Files.createDirectories(Path.of("target", "child-jvms")).toAbsolutePath();
      Path logFile = dir.resolve(name + "-" + System.nanoTime() + ".log");
      Path argFile = dir.resolve(name + "-" + System.nanoTime() + ".classpath");
      List<String> command = new ArrayList<>();
      command.add(JavaProcesses.javaExecutable().toString());
      command.add(
          JavaProcesses.writeClasspathArgumentFile(
              argFile, JavaProcesses.currentClasspath(ChildMain.class, mainClass)));
      command.addAll(
          List.of(
              "-Xmx256m",
              "-XX:+UseSerialGC",
              "-XX:TieredStopAtLevel=1",
              "-XX:-UsePerfData",
              "-Djava.awt.headless=true"));
      command.add(ChildMain.class.getName());
      command.add(mainClass.getName());
      command.addAll(args);
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
      builder.environment().remove("JAVA_TOOL_OPTIONS");
      builder.environment().remove("JDK_JAVA_OPTIONS");
      builder.environment().remove("_JAVA_OPTIONS");
      builder.environment().putAll(environment);
      // Standard input stays an open pipe: ChildMain halts the child when it reaches end-of-file.
      return new ChildJvm(name, builder.start(), logFile);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start child JVM " + name, e);
    }
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public Path logFile() {
    return logFile;
  }

  /** The last lines of the child's output, for failure messages. */
  public String logTail(int lines) {
    return EmbeddedKafka.readTail(logFile, lines);
  }

  /**
   * Kills the child with SIGKILL ({@link Process#destroyForcibly()}) and waits until it is gone.
   */
  public void kill() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(Duration.ofSeconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            "child JVM " + name + " (pid " + pid() + ") survived SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing child JVM " + name, e);
    } finally {
      reaper.cancel();
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    } else {
      reaper.cancel();
    }
  }

  @Override
  public String toString() {
    return "ChildJvm[" + name + ", pid " + pid() + ", log " + logFile + "]";
  }
}
