package dev.courier.testkit;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

import org.junit.jupiter.api.Assumptions;

import dev.courier.embedded.Reachability;

/**
 * What a test does when a server it needs is missing.
 *
 * <p>On a developer's machine a missing server should not turn the build red, but it must not go unnoticed either:
 * the test is skipped (JUnit reports it as aborted) and a banner on standard error says what is missing and how to
 * start it. On CI, where environment variable {@code CI} is {@code true}, every server is supposed to be there, so
 * the test fails instead: a skipped test there would hide a broken pipeline.
 *
 * <pre>{@code
 * Servers.requireReachable("RabbitMQ", "127.0.0.1", 5672, "rabbitmq-server -detached");
 * }</pre>
 */
public final class Servers {

    /** How long {@link #requireReachable} waits for a TCP connection. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);

    private Servers() {
    }

    /**
     * Returns normally if {@code available}; otherwise skips the calling test, or fails it on CI.
     *
     * @param what      the missing server, for a person: {@code "PostgreSQL"}
     * @param available whether the server is there
     * @param how       how to start it: a command, or what to set
     * @throws org.opentest4j.TestAbortedException if the server is missing and this is not CI
     * @throws AssertionError                      if the server is missing and this is CI
     */
    public static void require(String what, boolean available, String how) {
        require(what, null, available, how, isCi(), System.err);
    }

    /**
     * Like {@link #require(String, boolean, String)}, deciding availability by opening a TCP connection to
     * {@code host:port} within {@link #CONNECT_TIMEOUT}.
     */
    public static void requireReachable(String what, String host, int port, String how) {
        require(what, host + ":" + port, isReachable(host, port, CONNECT_TIMEOUT), how, isCi(), System.err);
    }

    /**
     * Whether a TCP connection to {@code host:port} can be opened within {@code timeout}. The connection is closed at
     * once; nothing is sent.
     */
    public static boolean isReachable(String host, int port, Duration timeout) {
        return Reachability.isReachable(host, port, timeout);
    }

    /** Whether this run is on CI: environment variable {@code CI} is {@code true} (in any case). */
    public static boolean isCi() {
        String ci = System.getenv("CI");
        return ci != null && ci.trim().toLowerCase(Locale.ROOT).equals("true");
    }

    /** The decision itself, with its inputs explicit so that both outcomes can be tested in one environment. */
    static void require(String what, String where, boolean available, String how, boolean ci, PrintStream banner) {
        if (available) {
            return;
        }
        String missing = what + " is not reachable" + (where == null ? "" : " at " + where);
        if (ci) {
            String message = "FAILED: " + missing + "; CI=true, so a missing server fails the build instead of"
                    + " skipping. Start it with: " + how;
            shout(banner, message);
            throw new AssertionError(message);
        }
        String message = "SKIPPED: " + missing + "; start it with: " + how;
        shout(banner, message);
        Assumptions.abort(message);
    }

    private static void shout(PrintStream out, String message) {
        String rule = "!".repeat(Math.min(120, message.length() + 6));
        out.println(rule);
        out.println("!!! " + message);
        out.println(rule);
        out.flush();
    }
}
