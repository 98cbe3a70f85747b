package dev.courier.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running a given class's {@code main} on this JVM's class path, which a test can kill with SIGKILL and
 * freeze and thaw with SIGSTOP and SIGCONT.
 *
 * <p>The child is launched through this package's child entry point, so it halts by itself when this JVM dies, and
 * it is killed when this JVM exits even if nobody closes it. Its standard output and error are appended to
 * {@link #logFile()}. Environment variables, not arguments, should carry secrets such as passwords.
 *
 * <p>Instances are thread-safe.
 */
public final class ChildProcess implements AutoCloseable {

    private static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData", "-Djava.awt.headless=true");

    private final String name;
    private final Process process;
    private final Path logFile;
    private final ChildReaper.Registration reaper;
    private boolean paused;

    private ChildProcess(String name, Process process, Path logFile) {
        this.name = name;
        this.process = process;
        this.logFile = logFile;
        this.reaper = ChildReaper.register(process::destroyForcibly);
    }

    /**
     * Starts {@code mainClass.main(args)} in a new JVM.
     *
     * @param name        a short name for the log file and messages
     * @param logDir      where to write {@code <name>-<n>.log}; created if missing
     * @param jvmOptions  options for the child JVM, such as {@code -Xmx256m}, after this class's defaults
     * @param environment extra environment variables
     * @throws UncheckedIOException if the JVM cannot be launched
     */
    public static ChildProcess start(String name, Class<?> mainClass, List<String> args, List<String> jvmOptions,
            Map<String, String> environment, Path logDir) {
        Objects.requireNonNull(mainClass, "mainClass");
        try {
            Path dir = Files.createDirectories(logDir).toAbsolutePath();
            String stamp = name + "-" + System.nanoTime();
            Path logFile = dir.resolve(stamp + ".log");
            List<String> command = new ArrayList<>();
            command.add(JavaProcesses.javaExecutable().toString());
            command.add(JavaProcesses.writeClasspathArgumentFile(dir.resolve(stamp + ".classpath"),
                    JavaProcesses.currentClasspath(ChildMain.class, mainClass)));
            command.addAll(DEFAULT_JVM_OPTIONS);
            command.addAll(jvmOptions);
            command.add(ChildMain.class.getName());
            command.add(mainClass.getName());
            command.addAll(args);
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
            builder.environment().remove("JAVA_TOOL_OPTIONS");
            builder.environment().remove("JDK_JAVA_OPTIONS");
            builder.environment().remove("_JAVA_OPTIONS");
            builder.environment().putAll(environment);
            // standard input stays an open pipe: the child halts when it reads end-of-file (this JVM is gone)
            return new ChildProcess(name, builder.start(), logFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start child JVM " + name, e);
        }
    }

    /** The name given at start. */
    public String name() {
        return name;
    }

    /** The operating-system process id. */
    public long pid() {
        return process.pid();
    }

    /** Whether the process has not exited (a paused process is alive). */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Whether the process is frozen by {@link #pause()}. */
    public synchronized boolean isPaused() {
        return paused;
    }

    /** The file receiving the child's standard output and error. */
    public Path logFile() {
        return logFile;
    }

    /** The last lines of the child's output, for failure messages. */
    public String logTail(int lines) {
        return EmbeddedKafka.readTail(logFile, lines);
    }

    /**
     * Kills the child with SIGKILL, as a crash or the OOM killer would, and waits until it is gone. A paused child
     * dies too. Does nothing if it has exited.
     *
     * @throws IllegalStateException if it survives 30 seconds
     */
    public synchronized void kill() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("child JVM " + name + " (pid " + pid() + ") survived SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while killing child JVM " + name, e);
        } finally {
            paused = false;
            reaper.cancel();
        }
    }

    /**
     * Freezes the child with SIGSTOP: its sockets stay open, it answers nothing and its timers stop, as in a long
     * garbage-collection pause. Does nothing if it is paused already.
     *
     * @throws IllegalStateException if the child has exited or the signal fails
     */
    public synchronized void pause() {
        if (paused) {
            return;
        }
        if (!process.isAlive()) {
            throw new IllegalStateException("child JVM " + name + " has exited; cannot pause it");
        }
        JavaProcesses.signal(pid(), "STOP");
        paused = true;
    }

    /** Lets a child frozen by {@link #pause()} run again with SIGCONT. Does nothing if it is not paused. */
    public synchronized void resume() {
        if (!paused) {
            return;
        }
        if (process.isAlive()) {
            JavaProcesses.signal(pid(), "CONT");
        }
        paused = false;
    }

    /**
     * Waits for the child to exit by itself.
     *
     * @return its exit status
     * @throws IllegalStateException if it is still running after {@code timeout}, quoting its last output lines
     */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("child JVM " + name + " (pid " + pid() + ") still runs after "
                        + timeout + "; last output:\n" + logTail(30));
            }
            reaper.cancel();
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for child JVM " + name, e);
        }
    }

    /** Kills the child if it is still running. */
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
        return "ChildProcess[" + name + ", pid " + pid() + ", log " + logFile + "]";
    }
}
