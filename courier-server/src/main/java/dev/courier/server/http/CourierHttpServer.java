package dev.courier.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a process's metrics and health over HTTP, with the JDK's built-in server:
 *
 * <ul>
 *   <li>{@code GET /metrics}: every meter of the registry in the Prometheus text format (OpenMetrics
 *       when the scraper asks for it in {@code Accept});
 *   <li>{@code GET /health/live}: 200 while the process runs;
 *   <li>{@code GET /health/ready}: 200 when every readiness check is up, else 503; the JSON body
 *       names each check with its status and reason;
 *   <li>{@code GET /}: the web dashboard ({@link DashboardAssets}), static files that chart {@code
 *       /metrics} in the browser and call the admin API where the process serves one.
 * </ul>
 *
 * <p>These endpoints are read-only: none changes anything, which is why none asks for credentials.
 * Other endpoints can be {@linkplain #mount mounted} beside them (the admin API); those check their
 * own credentials. Bind the server to the loopback address (the default) unless the network in
 * front of it is trusted. Requests are
 * handled by a few daemon threads, so a slow readiness check cannot pile up unbounded work.
 *
 * <p>{@link #close()} stops listening at once and waits for nothing.
 */
public final class CourierHttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CourierHttpServer.class);
  private static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";
  private static final String OPENMETRICS_FORMAT =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";
  private static final String JSON = "application/json; charset=utf-8";
  private static final int THREADS = 4;

  private final HttpServer server;
  private final ExecutorService executor;
  private final PrometheusMeterRegistry registry;
  private final Readiness readiness;
  private final ObjectMapper json = new ObjectMapper();
  private final DashboardAssets dashboard = new DashboardAssets();

  private CourierHttpServer(
      HttpServer server, ExecutorService executor, PrometheusMeterRegistry registry, Readiness readiness) {
    this.server = server;
    this.executor = executor;
    this.registry = registry;
    this.readiness = readiness;
  }

  /**
   * Starts serving on {@code host:port}.
   *
   * @param port the port, or 0 for a free one chosen by the system ({@link #address()} tells which)
   * @throws IOException if the address cannot be bound (in use, not local, not permitted)
   */
  public static CourierHttpServer start(
      String host, int port, PrometheusMeterRegistry registry, Readiness readiness) throws IOException {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(readiness, "readiness");
    HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 16);
    AtomicInteger n = new AtomicInteger();
    ExecutorService executor =
        Executors.newFixedThreadPool(
            THREADS,
            r -> Thread.ofPlatform().name("courier-http-" + n.incrementAndGet()).daemon(true).unstarted(r));
    CourierHttpServer s = new CourierHttpServer(http, executor, registry, readiness);
    http.setExecutor(executor);
    http.createContext("/", s.safely(s::route));
    http.start();
    log.info("serving the dashboard, /metrics, /health/live and /health/ready on {}", s.uri("/"));
    return s;
  }

  /**
   * Serves every path under {@code prefix} with {@code handler}, for endpoints other parts of the
   * process provide (the admin API mounts itself at {@code /api/}). The longest matching prefix
   * wins, so a mounted prefix takes its paths away from the dashboard but never from {@code
   * /metrics} or {@code /health/*}, which cannot be mounted over. May be called before or after
   * requests arrive. A handler that throws an unchecked exception gets a 500 answer, as the
   * built-in endpoints do.
   *
   * @param prefix a path starting and ending with {@code /}, such as {@code /api/}
   * @throws IllegalArgumentException if the prefix is malformed, covers a built-in endpoint, or is
   *     mounted already
   */
  public void mount(String prefix, HttpHandler handler) {
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(handler, "handler");
    if (!prefix.startsWith("/") || !prefix.endsWith("/") || prefix.length() < 3) {
      throw new IllegalArgumentException(
          "a mount prefix starts and ends with '/' and names a path, such as /api/; was " + prefix);
    }
    for (String builtIn : List.of("/metrics", "/health/live", "/health/ready")) {
      if (builtIn.startsWith(prefix) || (builtIn + "/").equals(prefix)) {
        throw new IllegalArgumentException(prefix + " would cover " + builtIn);
      }
    }
    server.createContext(prefix, safely(handler::handle));
    log.info("serving {} on {}", prefix, uri(prefix));
  }

  /** The address the server listens on, with the actual port. */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** The URL of a path on this server, such as {@code uri("/metrics")}. */
  public URI uri(String path) {
    InetSocketAddress a = address();
    String host = a.getHostString();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + a.getPort() + path);
  }

  private void route(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
    boolean known = path.equals("/metrics") || path.equals("/health/live") || path.equals("/health/ready");
    boolean read = method.equals("GET") || method.equals("HEAD");
    if (!known) {
      if (read && dashboard.serve(ex)) {
        return;
      }
      send(ex, 404, JSON, jsonBytes(Map.of(
          "error", "not found",
          "endpoints", java.util.List.of("/ (dashboard)", "/metrics", "/health/live", "/health/ready"))));
      return;
    }
    if (!read) {
      ex.getResponseHeaders().set("Allow", "GET, HEAD");
      send(ex, 405, JSON, jsonBytes(Map.of("error", "method not allowed; use GET")));
      return;
    }
    switch (path) {
      case "/metrics" -> metrics(ex);
      case "/health/live" -> send(ex, 200, JSON, jsonBytes(Map.of("status", "UP")));
      default -> ready(ex);
    }
  }

  private void metrics(HttpExchange ex) throws IOException {
    String accept = ex.getRequestHeaders().getFirst("Accept");
    String type =
        accept != null && accept.contains("application/openmetrics-text") ? OPENMETRICS_FORMAT : TEXT_FORMAT;
    ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
    registry.scrape(body, type);
    send(ex, 200, type, body.toByteArray());
  }

  private void ready(HttpExchange ex) throws IOException {
    Readiness.Report report = readiness.evaluate();
    ObjectNode root = json.createObjectNode();
    root.put("status", report.status().name());
    ObjectNode checks = root.putObject("checks");
    report.checks()
        .forEach(
            (name, r) -> {
              ObjectNode c = checks.putObject(name);
              c.put("status", r.status().name());
              c.put("reason", r.reason());
            });
    int code = report.status() == HealthCheck.Status.UP ? 200 : 503;
    send(ex, code, JSON, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
  }

  private byte[] jsonBytes(Object value) throws IOException {
    return json.writeValueAsBytes(value);
  }

  private static void send(HttpExchange ex, int status, String contentType, byte[] body)
      throws IOException {
    ex.getResponseHeaders().set("Content-Type", contentType);
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = ex.getRequestMethod().equalsIgnoreCase("HEAD");
    ex.sendResponseHeaders(status, head ? -1 : (body.length == 0 ? -1 : body.length));
    if (!head) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
    ex.close();
  }

  /** A handler that answers 500 instead of dropping the connection when something breaks. */
  private HttpHandler safely(Handler h) {
    return ex -> {
      try {
        h.handle(ex);
      } catch (IOException e) {
        // the client went away; nothing to answer
        ex.close();
      } catch (RuntimeException e) {
        log.warn("{} {} failed: {}", ex.getRequestMethod(), ex.getRequestURI().getPath(), e.toString());
        try {
          send(ex, 500, "text/plain; charset=utf-8", "internal error\n".getBytes(StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException ignored) {
          ex.close();
        }
      }
    };
  }

  @FunctionalInterface
  private interface Handler {
    void handle(HttpExchange ex) throws IOException;
  }

  /** Stops listening and ends the handler threads. Idempotent. */
  @Override
  public void close() {
    if (executor.isShutdown()) {
      return;
    }
    server.stop(0);
    executor.shutdownNow();
  }
}
