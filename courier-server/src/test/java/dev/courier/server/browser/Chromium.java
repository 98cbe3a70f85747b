package dev.courier.server.browser;

import dev.courier.testkit.Servers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real headless Chromium for tests, driven over the DevTools protocol ({@link DevTools}): Debian's
 * {@code chromium} package at {@code /usr/bin/chromium}, or the executable named by environment
 * variable {@code COURIER_CHROMIUM}.
 *
 * <p>Each instance runs with a fresh profile in a temporary folder, deleted on {@link #close()},
 * and without the sandbox, which needs user namespaces that containers and root users lack; the
 * pages it opens are the test's own.
 */
public final class Chromium implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://\\S+)");
  private static final long START_SECONDS = 60;

  private final Process process;
  private final Path profile;
  private final Deque<String> lastLines;
  private final DevTools devTools;

  private Chromium(Process process, Path profile, Deque<String> lastLines, DevTools devTools) {
    this.process = process;
    this.profile = profile;
    this.lastLines = lastLines;
    this.devTools = devTools;
  }

  /** The browser executable to use: {@code COURIER_CHROMIUM}, else {@code /usr/bin/chromium}. */
  public static Path executable() {
    String configured = System.getenv("COURIER_CHROMIUM");
    return Path.of(configured == null || configured.isBlank() ? "/usr/bin/chromium" : configured);
  }

  /** Whether {@link #executable()} exists and may be run. */
  public static boolean isInstalled() {
    return Files.isExecutable(executable());
  }

  /**
   * Returns normally if Chromium is installed; otherwise skips the calling test with a banner, or
   * fails it when {@code CI=true} (see {@link Servers}).
   */
  public static void require() {
    Path exe = executable();
    Servers.require(
        "Chromium (" + exe + ")",
        isInstalled(),
        "apt-get install -y chromium (Debian's package), or set COURIER_CHROMIUM to a Chromium or"
            + " Chrome executable");
  }

  /**
   * Starts a headless browser with a window of the given size and connects to it.
   *
   * @throws IllegalStateException if it does not announce its DevTools endpoint within a minute;
   *     the message holds its last lines of output
   */
  public static Chromium launch(int width, int height) throws IOException, InterruptedException {
    Path profile = Files.createTempDirectory("courier-chromium-");
    List<String> command =
        List.of(
            executable().toString(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--force-device-scale-factor=1",
            "--window-size=" + width + "," + height,
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--user-data-dir=" + profile,
            "about:blank");
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
    process.getOutputStream().close();
    Deque<String> lastLines = new ArrayDeque<>();
    CompletableFuture<URI> endpoint = new CompletableFuture<>();
    Thread reader =
        Thread.ofPlatform()
            .name("chromium-output")
            .daemon(true)
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                      synchronized (lastLines) {
                        lastLines.addLast(line);
                        while (lastLines.size() > 40) {
                          lastLines.removeFirst();
                        }
                      }
                      Matcher m = LISTENING.matcher(line);
                      if (m.find()) {
                        endpoint.complete(URI.create(m.group(1)));
                      }
                    }
                  } catch (IOException e) {
                    // the process ended; its exit is reported below
                  }
                  endpoint.completeExceptionally(
                      new IllegalStateException("chromium exited without a DevTools endpoint"));
                });
    URI ws;
    try {
      ws = endpoint.get(START_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      process.destroyForcibly();
      reader.join(5000);
      deleteTree(profile);
      throw new IllegalStateException(
          "Chromium ("
              + executable()
              + ") did not start within "
              + START_SECONDS
              + " s"
              + (process.isAlive() ? "" : " (exit status " + process.exitValue() + ")")
              + "; its last output:\n"
              + tail(lastLines),
          e);
    }
    try {
      return new Chromium(process, profile, lastLines, DevTools.connect(ws));
    } catch (IOException | RuntimeException e) {
      process.destroyForcibly();
      deleteTree(profile);
      throw e;
    }
  }

  /** The protocol connection to the browser. */
  public DevTools devTools() {
    return devTools;
  }

  /** Opens a new tab. */
  public BrowserPage newPage(int width, int height) {
    return BrowserPage.open(devTools, width, height);
  }

  /** The browser's last lines of output, for failure messages. */
  public String lastOutput() {
    return tail(lastLines);
  }

  private static String tail(Deque<String> lines) {
    synchronized (lines) {
      return String.join("\n", lines);
    }
  }

  /** Closes the connection, ends the browser (forcibly after 10 s) and deletes its profile. */
  @Override
  public void close() throws InterruptedException {
    try {
      devTools.close();
    } finally {
      List<ProcessHandle> helpers = process.descendants().toList();
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
      // renderer and GPU helpers normally end with the browser; make sure no orphan stays
      helpers.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
      deleteTree(profile);
    }
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temporary folder left behind is not worth failing a test for
    }
  }
}
