package dev.courier.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Entry point of the child JVMs that this package starts: runs the {@code main} of the class named by the first
 * argument with the remaining arguments, and halts the child as soon as its parent is gone.
 *
 * <p>A shutdown hook in the parent does not run when the parent is killed with SIGKILL (as Surefire does to a fork
 * that overruns its timeout). The parent keeps the write end of the child's standard input open for the child's
 * whole life, so end-of-file on standard input means the parent has died, and the child must not linger as an
 * orphan holding ports and disk.
 */
final class ChildMain {

    /** Exit status used when the parent disappears, as a shell reports a process ended by SIGTERM. */
    static final int PARENT_GONE_STATUS = 143;

    /**
     * System property naming a directory to delete when the parent is gone: the parent's own clean-up at exit
     * cannot run when it is killed outright, and nobody else knows the directory.
     */
    static final String ORPHAN_CLEANUP_DIR_PROPERTY = "courier.embedded.orphanCleanupDir";

    private ChildMain() {
    }

    /**
     * Starts the watchdog and delegates to the target class.
     *
     * @param args the fully qualified name of the class whose {@code main} to run, then its arguments
     * @throws Throwable whatever the target's {@code main} throws
     */
    public static void main(String[] args) throws Throwable {
        if (args.length == 0) {
            System.err.println("usage: " + ChildMain.class.getName() + " <main class> [arguments...]");
            System.exit(2);
        }
        Thread watchdog = new Thread(ChildMain::haltWhenParentIsGone, "courier-parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        Method main = Class.forName(args[0]).getMethod("main", String[].class);
        try {
            main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static void haltWhenParentIsGone() {
        byte[] buffer = new byte[256];
        try {
            InputStream in = System.in;
            while (in.read(buffer) >= 0) {
                // The parent never writes; anything read is ignored.
            }
        } catch (IOException e) {
            // A broken pipe means the same as end-of-file: the parent is gone.
        }
        System.err.println("[courier-embedded] the parent process is gone; halting this child JVM");
        System.err.flush();
        String cleanupDir = System.getProperty(ORPHAN_CLEANUP_DIR_PROPERTY);
        if (cleanupDir != null && !cleanupDir.isBlank()) {
            // Best effort: threads still running may recreate a file or two before the halt.
            Directories.deleteRecursively(Path.of(cleanupDir));
        }
        // halt, not exit: a graceful shutdown serves nobody once the parent is gone, and could hang.
        Runtime.getRuntime().halt(PARENT_GONE_STATUS);
    }
}
