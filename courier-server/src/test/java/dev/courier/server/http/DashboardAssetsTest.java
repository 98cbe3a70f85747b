package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The dashboard's static files as the HTTP server serves them. */
class DashboardAssetsTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private CourierHttpServer server;

  @BeforeEach
  void start() throws Exception {
    server = CourierHttpServer.start("127.0.0.1", 0, registry, Readiness.alwaysReady());
  }

  @AfterEach
  void stop() {
    server.close();
    registry.close();
  }

  @Test
  void root_servesTheDashboardPage_asHtmlThatIsRevalidated_withAStrictContentSecurityPolicy()
      throws Exception {
    HttpResponse<String> r = get("/", null);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-cache");
    assertThat(r.headers().firstValue("ETag")).hasValueSatisfying(e -> assertThat(e).matches("\"[0-9a-f]{32}\""));
    assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(r.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'").contains("frame-ancestors 'none'"));
    assertThat(r.body()).contains("<title>Courier dashboard</title>");
  }

  @Test
  void everyFileThePageReferences_isServedWithItsContentType() throws Exception {
    String page = get("/", null).body();
    Matcher refs = Pattern.compile("(?:src|href)=\"([^\"]+)\"").matcher(page);
    int checked = 0;
    while (refs.find()) {
      String ref = refs.group(1);
      HttpResponse<String> r = get("/" + ref, null);
      assertThat(r.statusCode()).as(ref).isEqualTo(200);
      String expected =
          ref.endsWith(".js") ? "text/javascript; charset=utf-8"
              : ref.endsWith(".css") ? "text/css; charset=utf-8"
              : "image/svg+xml";
      assertThat(r.headers().firstValue("Content-Type")).as(ref).hasValue(expected);
      checked++;
    }
    assertThat(checked).isGreaterThanOrEqualTo(6);
  }

  @Test
  void theVersionedChartingLibrary_isCachedForAYear_andShipsWithItsLicense() throws Exception {
    HttpResponse<String> lib = get("/vendor/uplot-1.6.32.min.js", null);

    assertThat(lib.statusCode()).isEqualTo(200);
    assertThat(lib.headers().firstValue("Cache-Control")).hasValue("public, max-age=31536000, immutable");
    assertThat(lib.body()).startsWith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */");
    assertThat(get("/vendor/uplot-license.txt", null).body()).contains("The MIT License");
  }

  @Test
  void aCurrentCopy_getsA304WithoutBody() throws Exception {
    String etag = get("/dashboard.js", null).headers().firstValue("ETag").orElseThrow();

    HttpResponse<String> again = get("/dashboard.js", etag);

    assertThat(again.statusCode()).isEqualTo(304);
    assertThat(again.body()).isEmpty();
    assertThat(get("/dashboard.js", "\"something-else\"").statusCode()).isEqualTo(200);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/../logback.xml",
        "/%2e%2e/logback.xml",
        "/..%2flogback.xml",
        "/vendor/../../logback.xml",
        "/.hidden",
        "/dashboard.js/",
        "//etc/passwd",
        "/DashboardAssets.class",
        "/dev/courier/server/http/DashboardAssets.class",
        "/index",
        "/vendor",
        "/missing.html",
        "/Index.html"
      })
  void pathsOutsideTheDashboardOrWithoutAKnownType_get404(String path) throws Exception {
    assertThat(rawGet(path)).as(path).startsWith("HTTP/1.1 404");
  }

  @Test
  void everyMetricTheDashboardCharts_isOneTheOperationsGuideDocuments() throws Exception {
    String script = get("/dashboard.js", null).body();
    String guide = Files.readString(Path.of("../docs/OPERATIONS.md"));
    Matcher names = Pattern.compile("'(courier_[a-z_]+)'").matcher(script);
    Set<String> read = new TreeSet<>();
    while (names.find()) {
      read.add(names.group(1));
    }
    assertThat(read).as("metric names in dashboard.js").hasSizeGreaterThanOrEqualTo(12);
    for (String name : read) {
      // the metrics tables list each family by its name, histograms by their _bucket series
      assertThat(guide.contains("`" + name + "`") || guide.contains("`" + name + "_bucket`"))
          .as("docs/OPERATIONS.md documents %s", name)
          .isTrue();
    }
  }

  @Test
  void theDashboard_doesNotShadowTheMetricsAndHealthEndpoints() throws Exception {
    assertThat(get("/metrics", null).headers().firstValue("Content-Type"))
        .hasValue("text/plain; version=0.0.4; charset=utf-8");
    assertThat(get("/health/live", null).statusCode()).isEqualTo(200);
  }

  @Test
  void aMountedHandler_takesItsPrefixFromTheDashboard_butCannotCoverTheBuiltInEndpoints()
      throws Exception {
    server.mount(
        "/api/",
        ex -> {
          byte[] body = "{\"mounted\":true}".getBytes(StandardCharsets.UTF_8);
          ex.getResponseHeaders().set("Content-Type", "application/json");
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });

    assertThat(get("/api/outbox/status", null).body()).isEqualTo("{\"mounted\":true}");
    assertThat(get("/", null).statusCode()).isEqualTo(200);
    assertThatThrownBy(() -> server.mount("/health/", ex -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("would cover /health/live");
    assertThatThrownBy(() -> server.mount("/metrics/", ex -> {}))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> server.mount("api", ex -> {}))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private HttpResponse<String> get(String path, String ifNoneMatch) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path));
    if (ifNoneMatch != null) {
      b.header("If-None-Match", ifNoneMatch);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A request with the path exactly as written: HTTP clients would normalise the dots away. */
  private String rawGet(String path) throws IOException {
    try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
      OutputStream out = s.getOutputStream();
      out.write(
          ("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }
}
