package dev.courier.embedded;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * What it takes to start a child JVM that sees the same classes as this one.
 */
final class JavaProcesses {

    private JavaProcesses() {
    }

    /**
     * The {@code java} launcher of the running JVM, so that the child runs on the same Java version.
     *
     * @throws IllegalStateException if no launcher can be found
     */
    static Path javaExecutable() {
        Path fromJavaHome = Path.of(System.getProperty("java.home"), "bin", isWindows() ? "java.exe" : "java");
        if (Files.isExecutable(fromJavaHome)) {
            return fromJavaHome;
        }
        Optional<String> command = ProcessHandle.current().info().command();
        if (command.isPresent() && Files.isExecutable(Path.of(command.get()))) {
            return Path.of(command.get());
        }
        throw new IllegalStateException("cannot find the java launcher of this JVM (java.home="
                + System.getProperty("java.home") + ")");
    }

    /**
     * The class path of this JVM as a list of existing files and directories, in lookup order.
     *
     * <p>Starts from {@code java.class.path} (and {@code jdk.module.path}, whose jars work on a class path too),
     * follows the {@code Class-Path} manifest attribute of every jar as the JVM itself does (Surefire, for one,
     * hands its forks a single manifest-only jar), adds the URLs of any {@link URLClassLoader} in the context class
     * loader's chain, and finally the code source of each of {@code anchors}, so that the classes the child is about
     * to run are there even when an IDE or build tool loaded them some other way.
     *
     * @param anchors classes whose jar or directory the child must see
     */
    static List<Path> currentClasspath(Class<?>... anchors) {
        List<Path> roots = new ArrayList<>();
        roots.addAll(splitPath(System.getProperty("java.class.path", "")));
        roots.addAll(splitPath(System.getProperty("jdk.module.path", "")));
        for (ClassLoader loader = Thread.currentThread().getContextClassLoader(); loader != null;
                loader = loader.getParent()) {
            if (loader instanceof URLClassLoader urlLoader) {
                for (URL url : urlLoader.getURLs()) {
                    toPath(url).ifPresent(roots::add);
                }
            }
        }
        for (Class<?> anchor : anchors) {
            codeSourceOf(anchor).ifPresent(roots::add);
        }
        return expandManifestClasspaths(roots);
    }

    /**
     * Expands the given class path entries with the jars their manifests name in {@code Class-Path}, recursively,
     * keeping the first occurrence of each entry and dropping those that do not exist.
     */
    static List<Path> expandManifestClasspaths(List<Path> entries) {
        Set<Path> result = new LinkedHashSet<>();
        for (Path entry : entries) {
            addWithManifestEntries(entry.toAbsolutePath().normalize(), result);
        }
        return List.copyOf(result);
    }

    private static void addWithManifestEntries(Path entry, Set<Path> result) {
        if (!Files.exists(entry) || !result.add(entry)) {
            return;
        }
        if (!Files.isRegularFile(entry)) {
            return;
        }
        String classPath;
        try (JarFile jar = new JarFile(entry.toFile(), false)) {
            Manifest manifest = jar.getManifest();
            classPath = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
        } catch (IOException e) {
            // Not a jar (or a damaged one): the JVM would skip its manifest too.
            return;
        }
        if (classPath == null || classPath.isBlank()) {
            return;
        }
        URI base = entry.toUri();
        for (String reference : classPath.trim().split("\\s+")) {
            resolveManifestReference(base, reference).ifPresent(path -> addWithManifestEntries(path, result));
        }
    }

    /** Manifest references are URLs, relative to the jar that holds them. */
    private static Optional<Path> resolveManifestReference(URI jar, String reference) {
        try {
            URI resolved = jar.resolve(URI.create(reference));
            if (!"file".equalsIgnoreCase(resolved.getScheme())) {
                return Optional.empty();
            }
            return Optional.of(Path.of(resolved).toAbsolutePath().normalize());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static List<Path> splitPath(String path) {
        List<Path> result = new ArrayList<>();
        for (String element : path.split(File.pathSeparator)) {
            if (!element.isBlank()) {
                try {
                    result.add(Path.of(element));
                } catch (InvalidPathException e) {
                    // A malformed element cannot be loaded from by the JVM either.
                }
            }
        }
        return result;
    }

    private static Optional<Path> codeSourceOf(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        return source == null || source.getLocation() == null ? Optional.empty() : toPath(source.getLocation());
    }

    private static Optional<Path> toPath(URL url) {
        if (!"file".equalsIgnoreCase(url.getProtocol())) {
            return Optional.empty();
        }
        try {
            return Optional.of(Path.of(url.toURI()));
        } catch (URISyntaxException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /**
     * Writes a launcher argument file that sets the class path, and returns the argument that uses it.
     *
     * <p>An argument file keeps a long class path off the command line, where Linux limits one argument to 128 KiB
     * and Windows the whole line to 32 KiB.
     *
     * @return {@code @<file>}, to pass to the {@code java} launcher
     */
    static String writeClasspathArgumentFile(Path file, List<Path> classpath) {
        StringBuilder joined = new StringBuilder();
        for (Path entry : classpath) {
            if (!joined.isEmpty()) {
                joined.append(File.pathSeparatorChar);
            }
            joined.append(entry);
        }
        // Inside quotes the launcher treats backslash as an escape, so both must be escaped.
        String quoted = '"' + joined.toString().replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        try {
            Files.writeString(file, "-cp\n" + quoted + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return "@" + file.toAbsolutePath();
    }

    /**
     * Sends a POSIX signal to a process through the {@code kill} command, for signals that {@link Process} cannot
     * send (SIGSTOP, SIGCONT).
     *
     * @param signal the signal name without the {@code SIG} prefix, such as {@code STOP}
     * @throws IllegalStateException if {@code kill} fails or does not finish within 10 seconds
     */
    static void signal(long pid, String signal) {
        if (isWindows()) {
            throw new UnsupportedOperationException("SIG" + signal + " needs a POSIX system");
        }
        ProcessBuilder builder = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                .redirectErrorStream(true);
        try {
            Process kill = builder.start();
            byte[] output = kill.getInputStream().readAllBytes();
            if (!kill.waitFor(10, TimeUnit.SECONDS)) {
                kill.destroyForcibly();
                throw new IllegalStateException("kill -" + signal + " " + pid + " did not finish");
            }
            if (kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + pid + " failed with status "
                        + kill.exitValue() + ": " + new String(output, StandardCharsets.UTF_8).trim());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run kill -" + signal + " " + pid, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending SIG" + signal + " to " + pid, e);
        }
    }

    private static boolean isWindows() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
    }
}
