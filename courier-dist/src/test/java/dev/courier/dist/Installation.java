package dev.courier.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The release archive unpacked into a temporary directory, and its {@code bin/courier} run as a child
 * process with nothing but a JDK: no Maven class path, no environment but {@code PATH}, {@code
 * HOME}, {@code JAVA_HOME} and the settings a test gives.
 */
final class Installation implements AutoCloseable {
  /** The archive {@code ./mvnw package} built (set by the module's surefire configuration). */
  static Path archive() {
    String archive = System.getProperty("courier.dist.archive");
    assertThat(archive).as("system property courier.dist.archive (run through Maven)").isNotNull();
    Path p = Path.of(archive);
    assertThat(p).as("the archive; it is built in the package phase, before these tests run").isRegularFile();
    return p;
  }

  static String version() {
    return System.getProperty("courier.dist.version");
  }

  private final Path parent;
  private final Path home;

  private Installation(Path parent, Path home) {
    this.parent = parent;
    this.home = home;
  }

  /** Unpacks the archive with {@code tar}, as an operator would, keeping the file modes. */
  static Installation unpack() throws IOException, InterruptedException {
    Path parent = Files.createTempDirectory("courier-dist-");
    Process tar =
        new ProcessBuilder("tar", "-xzf", archive().toString(), "-C", parent.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(tar.exitValue()).as("tar: %s", output).isZero();
    return new Installation(parent, parent.resolve("courier-" + version()));
  }

  Path home() {
    return home;
  }

  /** The directory the archive was unpacked into, the processes' working directory. */
  Path parent() {
    return parent;
  }

  /** A {@code bin/courier} process with the given settings; its output goes to files. */
  Started start(Map<String, String> settings, String... args) throws IOException {
    return start(home.resolve("bin/courier"), settings, args);
  }

  /** As {@link #start(Map, String...)}, through another path to the launcher (a symbolic link). */
  Started start(Path launcher, Map<String, String> settings, String... args) throws IOException {
    List<String> command = new java.util.ArrayList<>();
    command.add(launcher.toString());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(parent.toFile());
    Map<String, String> env = pb.environment();
    env.clear();
    env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
    env.put("HOME", parent.toString());
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.putAll(new HashMap<>(settings));
    String name = args.length == 0 ? "courier" : args[0].replaceAll("[^a-z-]", "");
    Path out = Files.createTempFile(parent, name + "-", ".out");
    Path err = Files.createTempFile(parent, name + "-", ".err");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    return new Started(pb.start(), out, err);
  }

  /** Runs {@code bin/courier} to its end (at most a minute). */
  Run run(Map<String, String> settings, String... args) throws IOException, InterruptedException {
    return run(home.resolve("bin/courier"), settings, args);
  }

  /** As {@link #run(Map, String...)}, through another path to the launcher. */
  Run run(Path launcher, Map<String, String> settings, String... args)
      throws IOException, InterruptedException {
    Started s = start(launcher, settings, args);
    if (!s.process().waitFor(60, TimeUnit.SECONDS)) {
      s.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("bin/courier " + String.join(" ", args) + " did not end in 60 s\n" + s.output());
    }
    return new Run(s.process().exitValue(), s.out(), s.err());
  }

  record Started(Process process, Path outFile, Path errFile) {
    String out() {
      return read(outFile);
    }

    String err() {
      return read(errFile);
    }

    String output() {
      return "--- out ---\n" + out() + "--- err ---\n" + err();
    }
  }

  record Run(int exitCode, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- out ---\n" + out + "--- err ---\n" + err;
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws IOException {
    try (Stream<Path> all = Files.walk(parent)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
