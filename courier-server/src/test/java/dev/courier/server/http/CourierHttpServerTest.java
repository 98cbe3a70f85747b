package dev.courier.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.BindException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The endpoints themselves: formats, status codes, and what readiness says. */
class CourierHttpServerTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final AtomicBoolean outboxUp = new AtomicBoolean(true);
  private CourierHttpServer server;

  @BeforeEach
  void start() throws Exception {
    Counter.builder("courier.relay.published")
        .description("Events the broker confirmed")
        .baseUnit("events")
        .tag("destination", "orders")
        .tag("transport", "kafka")
        .register(registry)
        .increment(3);
    Readiness readiness =
        new Readiness(
            List.of(
                HealthCheck.of(
                    "outbox",
                    () ->
                        outboxUp.get()
                            ? HealthCheck.Result.up("nothing pending")
                            : HealthCheck.Result.down("the oldest pending event is 6m 1s old")),
                HealthCheck.of("relay", () -> HealthCheck.Result.up("relay r1 is running"))));
    server = CourierHttpServer.start("127.0.0.1", 0, registry, readiness);
  }

  @AfterEach
  void stop() {
    server.close();
    registry.close();
  }

  @Test
  void metrics_areServedInThePrometheusTextFormat_onTheLoopbackAddress() throws Exception {
    HttpResponse<String> r = get("/metrics", null);

    assertThat(server.address().getAddress().isLoopbackAddress()).isTrue();
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
    assertThat(r.body())
        .contains("# HELP courier_relay_published_events_total Events the broker confirmed")
        .contains("courier_relay_published_events_total{destination=\"orders\",transport=\"kafka\"} 3.0");
  }

  @Test
  void metrics_areServedAsOpenMetrics_whenTheScraperAsksForIt() throws Exception {
    HttpResponse<String> r =
        get("/metrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");

    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/openmetrics-text"));
    assertThat(r.body())
        .contains("courier_relay_published_events_total{destination=\"orders\",transport=\"kafka\"} 3.0")
        .endsWith("# EOF\n");
  }

  @Test
  void liveness_answers200_whateverReadinessSays() throws Exception {
    outboxUp.set(false);

    HttpResponse<String> r = get("/health/live", null);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(new ObjectMapper().readTree(r.body()).get("status").asText()).isEqualTo("UP");
  }

  @Test
  void readiness_answers200WhenEveryCheckIsUp_and503NamingTheCheckThatIsDown() throws Exception {
    HttpResponse<String> up = get("/health/ready", null);
    assertThat(up.statusCode()).isEqualTo(200);
    assertThat(json(up).at("/checks/relay/reason").asText()).isEqualTo("relay r1 is running");

    outboxUp.set(false);
    HttpResponse<String> down = get("/health/ready", null);

    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(down.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
    JsonNode body = json(down);
    assertThat(body.get("status").asText()).isEqualTo("DOWN");
    assertThat(body.at("/checks/outbox/status").asText()).isEqualTo("DOWN");
    assertThat(body.at("/checks/outbox/reason").asText()).isEqualTo("the oldest pending event is 6m 1s old");
    assertThat(body.at("/checks/relay/status").asText()).isEqualTo("UP");
  }

  @Test
  void aCheckThatThrows_countsAsDown_withItsMessageAndNoPassword() {
    Readiness readiness =
        new Readiness(
            List.of(
                HealthCheck.of(
                    "outbox",
                    () -> {
                      throw new IllegalStateException(
                          "cannot connect to jdbc:postgresql://db/app?password=hunter2");
                    })));

    Readiness.Report report = readiness.evaluate();

    assertThat(report.status()).isEqualTo(HealthCheck.Status.DOWN);
    assertThat(report.checks().get("outbox").reason())
        .isEqualTo("the check failed: cannot connect to jdbc:postgresql://db/app?password=****");
  }

  @Test
  void unknownPaths_get404_andOtherMethodsThanGet_get405() throws Exception {
    assertThat(get("/admin", null).statusCode()).isEqualTo(404);
    assertThat(get("/metricsx", null).statusCode()).isEqualTo(404);
    HttpResponse<String> post =
        HTTP.send(
            HttpRequest.newBuilder(server.uri("/health/ready")).POST(HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  @Test
  void aPortInUse_failsTheStartWithBindException() {
    int taken = server.address().getPort();

    assertThatThrownBy(() -> CourierHttpServer.start("127.0.0.1", taken, registry, Readiness.alwaysReady()))
        .isInstanceOf(BindException.class);
  }

  private HttpResponse<String> get(String path, String accept) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path));
    if (accept != null) {
      b.header("Accept", accept);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return new ObjectMapper().readTree(r.body());
  }
}
