package dev.courier.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.courier.ConfigurationException;
import dev.courier.server.config.HttpSettings;
import dev.courier.server.config.Setting;
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
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
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
 * own credentials. What protects every endpoint:
 *
 * <ul>
 *   <li><b>Where it listens.</b> The loopback address by default. On any other address it serves
 *       HTTPS from a keystore ({@code courier.http.tls.*}) and refuses plain HTTP unless told {@code
 *       courier.http.allow-plaintext=true} (for a network that is itself encrypted and trusted).
 *   <li><b>The {@code Host} header.</b> A request is answered only if its {@code Host} names an IP
 *       address, {@code localhost}, the configured host or one of {@code courier.http.allowed-hosts}
 *       (or carries none, as no browser does): a web page whose name an attacker's DNS rebinds to
 *       127.0.0.1 sends its own name, and is refused with 421 before any endpoint runs.
 *   <li><b>Slow clients.</b> Each request runs on its own virtual thread, so a client that sends or
 *       reads slowly holds only its own connection, never a worker a health probe needs; a request
 *       must arrive within {@value #REQUEST_SECONDS} s and its answer be taken within {@value
 *       #RESPONSE_SECONDS} s, and at most {@value #MAX_CONNECTIONS} connections are open at once
 *       (the JDK server's {@code sun.net.httpserver.maxReqTime}, {@code maxRspTime} and {@code
 *       jdk.httpserver.maxConnections}, which Courier sets when they are not set already, before the
 *       process's first JDK HTTP server starts; they apply to every such server of the process).
 * </ul>
 *
 * <p>{@link #close()} stops listening at once and waits for nothing.
 */
public final class CourierHttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CourierHttpServer.class);
  private static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";
  private static final String OPENMETRICS_FORMAT =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";
  private static final String JSON = "application/json; charset=utf-8";
  /** Seconds a client has to send a whole request (headers and body). */
  static final int REQUEST_SECONDS = 30;
  /** Seconds from a request's arrival to the end of its answer. */
  static final int RESPONSE_SECONDS = 120;
  /** Connections open at once, over every JDK HTTP server of the process. */
  static final int MAX_CONNECTIONS = 256;

  private final HttpServer server;
  private final ExecutorService executor;
  private final PrometheusMeterRegistry registry;
  private final Readiness readiness;
  private final HostCheck hosts;
  private final boolean tls;
  private final ObjectMapper json = new ObjectMapper();
  private final DashboardAssets dashboard = new DashboardAssets();

  private CourierHttpServer(
      HttpServer server,
      ExecutorService executor,
      PrometheusMeterRegistry registry,
      Readiness readiness,
      HostCheck hosts,
      boolean tls) {
    this.server = server;
    this.executor = executor;
    this.registry = registry;
    this.readiness = readiness;
    this.hosts = hosts;
    this.tls = tls;
  }

  /**
   * Starts serving plain HTTP on {@code host:port}, a loopback address.
   *
   * @param port the port, or 0 for a free one chosen by the system ({@link #address()} tells which)
   * @throws IOException if the address cannot be bound (in use, not local, not permitted)
   * @throws ConfigurationException if {@code host} is not a loopback address (see {@link
   *     #start(HttpSettings, PrometheusMeterRegistry, Readiness)})
   */
  public static CourierHttpServer start(
      String host, int port, PrometheusMeterRegistry registry, Readiness readiness) throws IOException {
    return start(new HttpSettings(true, Objects.requireNonNull(host, "host"), port), registry, readiness);
  }

  /**
   * Starts serving as {@code settings} say: HTTPS when they name a keystore, else plain HTTP, which
   * only a loopback address gets unless {@code allowPlaintext} is set.
   *
   * @throws IOException if the address cannot be bound (in use, not local, not permitted)
   * @throws ConfigurationException naming the setting at fault: plain HTTP on an address other than
   *     loopback without {@code courier.http.allow-plaintext}, or a keystore that cannot be read
   */
  public static CourierHttpServer start(
      HttpSettings settings, PrometheusMeterRegistry registry, Readiness readiness) throws IOException {
    Objects.requireNonNull(settings, "settings");
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(readiness, "readiness");
    requireSafeBinding(settings);
    applyServerLimits(System.getProperties());
    SSLContext ssl = settings.tls() == null ? null : Keystores.sslContext(settings.tls());
    InetSocketAddress address = new InetSocketAddress(settings.host(), settings.port());
    HttpServer http;
    if (ssl != null) {
      HttpsServer https = HttpsServer.create(address, 64);
      https.setHttpsConfigurator(new HttpsConfigurator(ssl));
      http = https;
    } else {
      http = HttpServer.create(address, 64);
    }
    ExecutorService executor =
        Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("courier-http-", 1).factory());
    CourierHttpServer s =
        new CourierHttpServer(
            http, executor, registry, readiness, new HostCheck(settings.host(), settings.allowedHosts()), ssl != null);
    http.setExecutor(executor);
    http.createContext("/", s.safely(s::route));
    http.start();
    log.info("serving the dashboard, /metrics, /health/live and /health/ready on {}", s.uri("/"));
    return s;
  }

  /**
   * Refuses plain HTTP on an address other than loopback unless {@code courier.http.allow-plaintext}
   * is set: the admin API's token and dead letters would cross the network in the clear.
   *
   * @throws ConfigurationException naming {@code courier.http.tls.keystore}
   */
  public static void requireSafeBinding(HttpSettings settings) {
    if (settings.tls() != null || settings.allowPlaintext() || AdminApi.isLoopback(settings.host())) {
      return;
    }
    throw new ConfigurationException(
        Setting.HTTP_TLS_KEYSTORE.key(),
        "is not set, and "
            + Setting.HTTP_HOST.key()
            + "="
            + settings.host()
            + " is not a loopback address: serve HTTPS from a keystore ("
            + Setting.HTTP_TLS_KEYSTORE.key()
            + ", "
            + Setting.HTTP_TLS_KEYSTORE_PASSWORD.key()
            + "), or set "
            + Setting.HTTP_ALLOW_PLAINTEXT.key()
            + "=true if the network in between is encrypted and trusted");
  }

  /**
   * Sets the JDK HTTP server's request and response time limits and its connection limit in {@code
   * properties}, each only where it is not set already (an operator's {@code -D} wins).
   */
  static void applyServerLimits(Properties properties) {
    properties.putIfAbsent("sun.net.httpserver.maxReqTime", String.valueOf(REQUEST_SECONDS));
    properties.putIfAbsent("sun.net.httpserver.maxRspTime", String.valueOf(RESPONSE_SECONDS));
    properties.putIfAbsent("jdk.httpserver.maxConnections", String.valueOf(MAX_CONNECTIONS));
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
    return URI.create((tls ? "https://" : "http://") + host + ":" + a.getPort() + path);
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

  /**
   * A handler that first checks the request's {@code Host} header, and answers 500 instead of
   * dropping the connection when something breaks.
   */
  private HttpHandler safely(Handler h) {
    return ex -> {
      try {
        String host = ex.getRequestHeaders().getFirst("Host");
        if (!hosts.allows(host)) {
          log.warn(
              "refused {} {}: its Host header is not one this server answers to (add the name to {})",
              ex.getRequestMethod(),
              ex.getRequestURI().getPath(),
              Setting.HTTP_ALLOWED_HOSTS.key());
          send(ex, 421, JSON, jsonBytes(Map.of(
              "error", "this server does not answer to that Host name; add it to "
                  + Setting.HTTP_ALLOWED_HOSTS.key() + " if it is yours")));
          return;
        }
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
