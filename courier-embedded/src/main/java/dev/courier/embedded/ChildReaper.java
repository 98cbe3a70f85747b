package dev.courier.embedded;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs registered clean-up actions when the JVM exits, so that no child process started by this package outlives
 * the JVM that started it.
 *
 * <p>One hook serves every registration: the JVM runs shutdown hooks concurrently and in no set order, and a single
 * hook keeps the clean-up of many brokers from competing for the two cores of a small machine.
 */
final class ChildReaper {

    private static final Set<Registration> PENDING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(ChildReaper::runAll, "courier-embedded-reaper"));
    }

    private ChildReaper() {
    }

    /**
     * Registers an action to run at JVM exit unless the returned registration is cancelled first.
     *
     * @param cleanup must be quick and must not throw; it runs inside a shutdown hook
     * @return a handle whose {@link Registration#cancel()} withdraws the action
     */
    static Registration register(Runnable cleanup) {
        Registration registration = new Registration(cleanup);
        PENDING.add(registration);
        return registration;
    }

    private static void runAll() {
        for (Registration registration : PENDING) {
            try {
                registration.cleanup.run();
            } catch (RuntimeException e) {
                // A failing action must not keep the others from running; stderr is all that is left this late.
                System.err.println("[courier-embedded] clean-up at exit failed: " + e);
            }
        }
        PENDING.clear();
    }

    /** A pending clean-up action. */
    static final class Registration {
        private final Runnable cleanup;

        private Registration(Runnable cleanup) {
            this.cleanup = cleanup;
        }

        /** Withdraws the action; cancelling twice is harmless. */
        void cancel() {
            PENDING.remove(this);
        }
    }
}
