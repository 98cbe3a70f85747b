package dev.courier.testkit.chaos;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import dev.courier.embedded.ChildProcess;

/**
 * The processes of a chaos run (writers, relays, consumers), each a child JVM started from a {@link Role} that the
 * harness can {@linkplain #kill kill -9}, {@linkplain #pause pause} with SIGSTOP, {@linkplain #resume resume} and
 * {@linkplain #restart restart} with the same arguments. Every fault it injects is recorded, with when it started and
 * when it was healed, for the checker's report.
 *
 * <p>Closing the harness kills every process it started. Its methods are thread-safe.
 */
public final class ProcessHarness implements AutoCloseable {

    /**
     * How to start one process of the run.
     *
     * @param name        unique within the harness, such as {@code relay-1}
     * @param mainClass   the class whose {@code main} runs in the child
     * @param args        its arguments
     * @param jvmOptions  options for the child JVM
     * @param environment extra environment variables (passwords go here, never in arguments)
     */
    public record Role(String name, Class<?> mainClass, List<String> args, List<String> jvmOptions,
            Map<String, String> environment) {
        public Role {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(mainClass, "mainClass");
            args = List.copyOf(args);
            jvmOptions = List.copyOf(jvmOptions);
            environment = Map.copyOf(environment);
        }
    }

    private final Path logDir;
    private final Clock clock;
    private final Map<String, Role> roles = new LinkedHashMap<>();
    private final Map<String, ChildProcess> running = new LinkedHashMap<>();
    private final List<ChildProcess> all = new ArrayList<>();
    private final List<History.FaultRecord> faults = new ArrayList<>();

    /**
     * @param logDir where the children's output goes
     */
    public ProcessHarness(Path logDir, Clock clock) {
        this.logDir = Objects.requireNonNull(logDir, "logDir");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Starts a process for the role and remembers the role for {@link #restart}. */
    public synchronized ChildProcess start(Role role) {
        if (running.containsKey(role.name()) && running.get(role.name()).isAlive()) {
            throw new IllegalStateException(role.name() + " is running already");
        }
        roles.put(role.name(), role);
        ChildProcess child = ChildProcess.start(role.name(), role.mainClass(), role.args(), role.jvmOptions(),
                role.environment(), logDir);
        running.put(role.name(), child);
        all.add(child);
        return child;
    }

    /** The current process of a role. */
    public synchronized ChildProcess process(String name) {
        ChildProcess child = running.get(name);
        if (child == null) {
            throw new IllegalArgumentException("no process named " + name);
        }
        return child;
    }

    /** Kills the role's process with SIGKILL and records the fault (healed by a later {@link #restart}). */
    public synchronized void kill(String name, String why) {
        process(name).kill();
        faults.add(new History.FaultRecord(clock.instant(), name + " killed (SIGKILL)" + suffix(why), null));
    }

    /** Freezes the role's process with SIGSTOP and records the fault, healed by {@link #resume}. */
    public synchronized void pause(String name, String why) {
        process(name).pause();
        faults.add(new History.FaultRecord(clock.instant(), name + " paused (SIGSTOP)" + suffix(why), null));
    }

    /** Thaws the role's process with SIGCONT and marks the pause healed. */
    public synchronized void resume(String name) {
        process(name).resume();
        healLast(name + " paused");
    }

    /** Starts the role again (killing a process still running) and marks its kill healed. */
    public synchronized ChildProcess restart(String name) {
        Role role = roles.get(name);
        if (role == null) {
            throw new IllegalArgumentException("no role named " + name);
        }
        ChildProcess old = running.get(name);
        if (old != null && old.isAlive()) {
            old.kill();
        }
        ChildProcess child = start(role);
        healLast(name + " killed");
        return child;
    }

    /**
     * Records a fault injected by other means (a proxy, a broker kill, a terminated backend).
     *
     * @return its index, for {@link #healed(int)}
     */
    public synchronized int recordFault(String description) {
        faults.add(new History.FaultRecord(clock.instant(), description, null));
        return faults.size() - 1;
    }

    /** Marks a fault recorded with {@link #recordFault} as healed now. */
    public synchronized void healed(int fault) {
        History.FaultRecord f = faults.get(fault);
        faults.set(fault, new History.FaultRecord(f.at(), f.description(), clock.instant()));
    }

    /** The faults injected so far, in order. */
    public synchronized List<History.FaultRecord> faults() {
        return List.copyOf(faults);
    }

    /** When the last fault was healed (or injected, for a fault that heals by itself), or {@code null}. */
    public synchronized Instant lastHealed() {
        Instant last = null;
        for (History.FaultRecord f : faults) {
            Instant t = f.healedAt() != null ? f.healedAt() : f.at();
            if (last == null || t.isAfter(last)) {
                last = t;
            }
        }
        return last;
    }

    /** The last lines of every process's output, for failure messages. */
    public synchronized String logTails(int lines) {
        StringBuilder out = new StringBuilder();
        for (ChildProcess child : all) {
            out.append("--- ").append(child).append(child.isAlive() ? "" : " (exited)").append('\n')
                    .append(child.logTail(lines)).append('\n');
        }
        return out.toString();
    }

    /** Waits for a role's process to exit by itself, returning its status. */
    public int awaitExit(String name, Duration timeout) {
        return process(name).awaitExit(timeout);
    }

    /** Kills every process still running. */
    @Override
    public synchronized void close() {
        for (ChildProcess child : all) {
            child.resume();
            child.close();
        }
    }

    private void healLast(String prefix) {
        for (int i = faults.size() - 1; i >= 0; i--) {
            History.FaultRecord f = faults.get(i);
            if (f.healedAt() == null && f.description().startsWith(prefix)) {
                faults.set(i, new History.FaultRecord(f.at(), f.description(), clock.instant()));
                return;
            }
        }
    }

    private static String suffix(String why) {
        return why == null || why.isBlank() ? "" : " " + why;
    }
}
