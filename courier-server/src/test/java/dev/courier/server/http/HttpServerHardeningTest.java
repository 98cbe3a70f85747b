package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.server.config.HttpSettings;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What protects the HTTP server whatever it serves: the Host check against DNS rebinding, slow
 * clients that must not starve the health probes, the request time limit, HTTPS from a keystore,
 * and the refusal of plain HTTP beyond loopback.
 */
class HttpServerHardeningTest {
  private static final String KEYSTORE_PASSWORD = "keystore-pass-for-tests-42";
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
    registry.close();
  }

  private CourierHttpServer start(HttpSettings settings) throws IOException {
    CourierHttpServer s = CourierHttpServer.start(settings, registry, Readiness.alwaysReady());
    open.add(s);
    return s;
  }

  /** The status line's code of a request sent as raw bytes, with the given Host header (or none). */
  private static int rawStatus(CourierHttpServer server, String path, String host) throws IOException {
    try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
      s.setSoTimeout(10_000);
      String request =
          "GET " + path + " HTTP/1.1\r\n" + (host == null ? "" : "Host: " + host + "\r\n") + "Connection: close\r\n\r\n";
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      String status = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
      return Integer.parseInt(status.substring(9, 12));
    }
  }

  @Test
  void aHostHeaderNamingAnotherSite_isRefusedWith421_onEveryEndpoint_beforeTheEndpointRuns() throws Exception {
    CourierHttpServer server = start(new HttpSettings(true, "127.0.0.1", 0));
    AtomicInteger apiCalls = new AtomicInteger();
    server.mount("/api/", ex -> {
      apiCalls.incrementAndGet();
      ex.sendResponseHeaders(204, -1);
      ex.close();
    });
    int port = server.address().getPort();

    for (String path : List.of("/health/live", "/health/ready", "/metrics", "/", "/api/dlq")) {
      assertThat(rawStatus(server, path, "attacker.example:" + port)).as(path).isEqualTo(421);
      assertThat(rawStatus(server, path, "127.0.0.1.attacker.example")).as(path).isEqualTo(421);
    }
    assertThat(apiCalls).as("a refused request never reaches the endpoint").hasValue(0);

    for (String host : List.of("localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "LOCALHOST", "app.localhost")) {
      assertThat(rawStatus(server, "/health/live", host)).as(host).isEqualTo(200);
    }
    assertThat(rawStatus(server, "/health/live", null)).as("no Host at all: not a browser").isEqualTo(200);
    assertThat(rawStatus(server, "/api/dlq", "localhost:" + port)).isEqualTo(204);
  }

  @Test
  void configuredNamesAndSuffixes_areAnswered_andNothingElse() throws Exception {
    CourierHttpServer server =
        start(new HttpSettings(true, "127.0.0.1", 0, List.of("courier.example.internal", ".svc.cluster.local"), null, false));

    assertThat(rawStatus(server, "/health/live", "courier.example.internal")).isEqualTo(200);
    assertThat(rawStatus(server, "/health/live", "Courier.Example.Internal.:9477")).isEqualTo(200);
    assertThat(rawStatus(server, "/health/live", "admin.ops.svc.cluster.local:9477")).isEqualTo(200);
    assertThat(rawStatus(server, "/health/live", "evilsvc.cluster.local")).isEqualTo(421);
    assertThat(rawStatus(server, "/health/live", "courier.example.internal.evil.test")).isEqualTo(421);
    assertThat(rawStatus(server, "/health/live", "courier.example.internal:http")).isEqualTo(421);
  }

  @Test
  void hostCheck_allowsAddressesLocalhostTheBindNameAndTheList() {
    HostCheck check = new HostCheck("relay-7.internal", List.of("ops.example", ".corp.example"));

    assertThat(check.allows(null)).isTrue();
    assertThat(check.allows("10.1.2.3:9477")).isTrue();
    assertThat(check.allows("[fe80::1]")).isTrue();
    assertThat(check.allows("relay-7.internal:9477")).isTrue();
    assertThat(check.allows("ops.example")).isTrue();
    assertThat(check.allows("a.b.corp.example")).isTrue();
    assertThat(check.allows("corp.example")).as("a suffix entry needs a name before the dot").isFalse();
    assertThat(check.allows("ops.example.attacker.test")).isFalse();
    assertThat(check.allows("")).isFalse();
    assertThat(check.allows("[::1")).isFalse();
    assertThat(new HostCheck("127.0.0.1", List.of("*")).allows("anything.test")).isTrue();
  }

  @Test
  void slowClients_cannotStarveTheHealthProbes() throws Exception {
    CourierHttpServer server = start(new HttpSettings(true, "127.0.0.1", 0));
    List<Socket> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 40; i++) {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        stalled.add(s);
        // a request line and one header, and then nothing: the request never ends
        s.getOutputStream().write("GET /health/ready HTTP/1.1\r\nHost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
      }
      Thread.sleep(200);

      long t0 = System.nanoTime();
      HttpResponse<String> probe =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(server.uri("/health/live")).timeout(Duration.ofSeconds(5)).build(),
                  HttpResponse.BodyHandlers.ofString());

      assertThat(probe.statusCode()).isEqualTo(200);
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    } finally {
      for (Socket s : stalled) {
        s.close();
      }
    }
  }

  @Test
  void aClientThatStallsMidRequest_isDisconnected_afterTheRequestTimeLimit() throws Exception {
    // The limit is the JDK server's, read once per JVM: a server in a JVM of its own, given 2 s
    // instead of the default 30 s so that the test is short (Courier keeps a value it finds).
    Process child =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dsun.net.httpserver.maxReqTime=2",
                "-cp",
                System.getProperty("java.class.path"),
                ServerInItsOwnJvm.class.getName())
            .redirectErrorStream(true)
            .start();
    open.add(child::destroyForcibly);
    java.io.BufferedReader lines =
        new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
    int port = -1;
    for (String line; (line = lines.readLine()) != null; ) {
      if (line.startsWith("port ")) {
        port = Integer.parseInt(line.substring(5).strip());
        break;
      }
    }
    assertThat(port).as("the child server started").isPositive();

    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      out.write("GET /health/live HTTP/1.1\r\nHost: localhost\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      long t0 = System.nanoTime();
      int read;
      try {
        InputStream in = s.getInputStream();
        read = in.read();
      } catch (SocketException reset) {
        read = -1;
      }
      long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

      assertThat(read).as("the server closed the connection without an answer").isEqualTo(-1);
      assertThat(waited).as("after about the limit, not at once nor never").isBetween(1_000L, 15_000L);
    }
  }

  /** Serves on a free loopback port, prints it, and runs until killed. */
  public static final class ServerInItsOwnJvm {
    public static void main(String[] args) throws Exception {
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      CourierHttpServer server =
          CourierHttpServer.start(new HttpSettings(true, "127.0.0.1", 0), registry, Readiness.alwaysReady());
      System.out.println("port " + server.address().getPort());
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE);
    }
  }

  @Test
  void serverLimits_areSetWhereAbsent_andAnOperatorsOwnValuesAreKept() {
    Properties none = new Properties();
    CourierHttpServer.applyServerLimits(none);
    assertThat(none)
        .containsEntry("sun.net.httpserver.maxReqTime", "30")
        .containsEntry("sun.net.httpserver.maxRspTime", "120")
        .containsEntry("jdk.httpserver.maxConnections", "256");

    Properties operators = new Properties();
    operators.setProperty("sun.net.httpserver.maxReqTime", "5");
    CourierHttpServer.applyServerLimits(operators);
    assertThat(operators).containsEntry("sun.net.httpserver.maxReqTime", "5");
  }

  @Test
  void https_fromAKeystore_servesTheEndpoints_andAPlainRequestGetsNoAnswer(@TempDir Path dir) throws Exception {
    Path keystore = keystore(dir);
    CourierHttpServer server =
        start(new HttpSettings(true, "127.0.0.1", 0, List.of(), new HttpSettings.Tls(keystore, KEYSTORE_PASSWORD, "PKCS12"), false));

    assertThat(server.uri("/").getScheme()).isEqualTo("https");
    HttpResponse<String> live =
        HttpClient.newBuilder()
            .sslContext(trusting(keystore))
            .build()
            .send(HttpRequest.newBuilder(server.uri("/health/live")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(live.statusCode()).isEqualTo(200);

    java.net.URI plain = java.net.URI.create("http://127.0.0.1:" + server.address().getPort() + "/health/live");
    assertThatThrownBy(
            () ->
                HttpClient.newHttpClient()
                    .send(HttpRequest.newBuilder(plain).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(IOException.class);
  }

  @Test
  void plainHttpOnAnAddressBeyondLoopback_isRefused_unlessAllowedExplicitly() throws Exception {
    assertThatThrownBy(() -> start(new HttpSettings(true, "0.0.0.0", 0)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("courier.http.tls.keystore")
        .hasMessageContaining("courier.http.allow-plaintext")
        .hasMessageContaining("0.0.0.0");

    CourierHttpServer allowed = start(new HttpSettings(true, "0.0.0.0", 0, List.of(), null, true));
    assertThat(rawStatus(allowed, "/health/live", "127.0.0.1")).isEqualTo(200);
  }

  @Test
  void aBadKeystore_stopsTheStart_namingTheSetting_neverThePassword(@TempDir Path dir) throws Exception {
    Path keystore = keystore(dir);

    assertThatThrownBy(() -> start(tls(keystore, "not-the-password-at-all")))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("courier.http.tls.keystore")
        .hasMessageNotContaining("not-the-password-at-all");
    assertThatThrownBy(() -> start(tls(dir.resolve("missing.p12"), KEYSTORE_PASSWORD)))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("courier.http.tls.keystore")
        .hasMessageContaining("does not exist")
        .hasMessageNotContaining(KEYSTORE_PASSWORD);
  }

  private static HttpSettings tls(Path keystore, String password) {
    return new HttpSettings(true, "127.0.0.1", 0, List.of(), new HttpSettings.Tls(keystore, password, "PKCS12"), false);
  }

  /** A PKCS12 keystore with a self-signed certificate for localhost and 127.0.0.1, made by keytool. */
  private static Path keystore(Path dir) throws Exception {
    Path file = dir.resolve("server.p12");
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Process p =
        new ProcessBuilder(
                keytool.toString(), "-genkeypair", "-alias", "courier", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", file.toString(), "-storepass", KEYSTORE_PASSWORD,
                "-keypass", KEYSTORE_PASSWORD)
            .redirectErrorStream(true)
            .start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(output).isZero();
    return file;
  }

  private static SSLContext trusting(Path keystore) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = java.nio.file.Files.newInputStream(keystore)) {
      store.load(in, KEYSTORE_PASSWORD.toCharArray());
    }
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("server", store.getCertificate("courier"));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }
}
