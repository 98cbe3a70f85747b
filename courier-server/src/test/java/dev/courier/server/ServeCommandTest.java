package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code courier serve}: the dashboard, admin API, metrics and health in one process. */
class ServeCommandTest {
  private AdminFixture f;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("cli_serve");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void serve_answersTheAdminApiMetricsAndHealth_untilStopped() throws Exception {
    Map<String, String> env = f.environment();
    env.put("COURIER_HTTP_PORT", "0");
    env.put("COURIER_ADMIN_TOKEN", "a-long-enough-token-1234");
    CommandLine cl = CourierCli.commandLine(env);
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    ServeCommand serve = cl.getSubcommands().get("serve").getCommand();
    CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> cl.execute("serve"));
    try {
      URI base = serve.awaitStarted(Duration.ofSeconds(30));
      assertThat(base).as(err.toString()).isNotNull();
      HttpClient http = HttpClient.newHttpClient();
      for (String path : new String[] {"api/outbox/status", "api/dlq", "api/dlq/groups", "metrics", "health/live"}) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(base.resolve(path)).header("Authorization", "Bearer a-long-enough-token-1234").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
      }
      HttpResponse<String> anonymous =
          http.send(HttpRequest.newBuilder(base.resolve("api/dlq")).GET().build(), HttpResponse.BodyHandlers.ofString());
      assertThat(anonymous.statusCode()).as("reads need the token too").isEqualTo(401);
      assertThat(err.toString()).contains("admin API at").doesNotContain("a-long-enough-token-1234");
    } finally {
      serve.requestStop();
    }
    assertThat(exit.get()).isZero();
  }

  @Test
  void serve_onANonLoopbackAddressWithoutAToken_refusesToStart() {
    Map<String, String> env = f.environment();
    env.put("COURIER_HTTP_PORT", "0");

    CliRun run = CliRun.of(env, "serve", "--http-host", "0.0.0.0");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("courier.admin.token").contains("0.0.0.0");
  }
}
