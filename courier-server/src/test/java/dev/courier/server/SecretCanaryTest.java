package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.server.config.CourierConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Secrets planted in every place configuration can hold one (the admin token, the database,
 * keystore and broker passwords, secret Kafka client properties, a password containing '@' in a
 * broker URI, the NATS token, a password in a JDBC URL) must not show in any admin API
 * answer, any CLI output, or any log line, on the success paths and the failure paths alike.
 */
class SecretCanaryTest {
  /** Every planted secret contains this; a partial leak of the '@' password shows as its tail. */
  private static final Pattern LEAK = Pattern.compile("canary|ss-rabbit");
  private static final String TOKEN = "canary-admin-token-0123456789";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private AdminFixture f;
  private Map<String, String> env;
  private Observability observability;
  private ListAppender<ILoggingEvent> logs;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("planted");
    env = new HashMap<>(f.environment());
    if (f.database.password() == null) {
      // the test server trusts local connections, so any password connects
      env.put("COURIER_DB_PASSWORD", "canary-db-password");
    }
    env.put("COURIER_ADMIN_TOKEN", TOKEN);
    env.put("COURIER_HTTP_TLS_KEYSTORE_PASSWORD", "canary-keystore-password");
    env.put(
        "COURIER_KAFKA_PROPERTY_SASL_JAAS_CONFIG",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"canary-jaas\";");
    env.put("COURIER_KAFKA_PROPERTY_SSL_KEYSTORE_KEY", "canary-private-key-material");
    env.put("COURIER_KAFKA_PROPERTY_SASL_CLIENT_CALLBACK_HANDLER_CLASS", "not.a.Secret");
    env.put("COURIER_RABBITMQ_URI", "amqp://courier:canary-p@ss-rabbit@127.0.0.1:5672/");
    env.put("COURIER_NATS_URL", "nats://127.0.0.1:4222");
    env.put("COURIER_NATS_TOKEN", "canary-nats-token");
    env.put("COURIER_HTTP_PORT", "0");

    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    if (observability != null) {
      observability.close();
    }
    f.close();
  }

  @Test
  void noCliOutput_showsAPlantedSecret() {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);
    List<CliRun> runs = new ArrayList<>();

    runs.add(CliRun.of(env, "config"));
    runs.add(CliRun.of(env, "dlq", "list"));
    runs.add(CliRun.of(env, "dlq", "list", "--json"));
    runs.add(CliRun.of(env, "dlq", "show", String.valueOf(id)));
    runs.add(CliRun.of(env, "dlq", "show", "--json", String.valueOf(id)));
    runs.add(CliRun.of(env, "dlq", "groups"));
    runs.add(CliRun.of(env, "dlq", "show", "987654321"));
    runs.add(CliRun.of(env, "dlq", "discard", "--all", "--reason", "noise"));
    runs.add(CliRun.of(env, "outbox", "status"));
    runs.add(CliRun.of(env, "audit", "--json"));
    runs.add(CliRun.of(env, "audit", "--limit", "-3"));
    // a database that cannot be reached, named by a URL with a password in it
    Map<String, String> unreachable = new HashMap<>(env);
    unreachable.put("COURIER_DB_URL", "jdbc:postgresql://127.0.0.1:1/test?password=canary-url-password&connectTimeout=1");
    unreachable.put("COURIER_DB_CONNECT_TIMEOUT", "1s");
    runs.add(CliRun.of(unreachable, "dlq", "list"));
    runs.add(CliRun.of(unreachable, "config"));

    assertThat(runs.getFirst().out())
        .as("the configuration is shown, with its secrets masked")
        .contains("courier.kafka.property.sasl.jaas.config")
        .contains("courier.kafka.property.ssl.keystore.key")
        .contains("courier.admin.token")
        .contains("not.a.Secret");
    assertThat(runs.get(11).exitCode()).as(runs.get(11).toString()).isEqualTo(3);
    for (CliRun run : runs) {
      assertThat(LEAK.matcher(run.out() + run.err()).find()).as(run.toString()).isFalse();
    }
    assertNoLeakInLogs();
  }

  @Test
  void noAdminApiAnswer_showsAPlantedSecret() throws Exception {
    Event e = f.poison("billing", "k1");
    long id = f.idOf(e);
    CourierConfig config = CourierConfig.loader().environment(env).load();
    observability = new Observability(config);
    observability.serveAdminApi(f.db, CourierTables.DEFAULT);
    URI base = observability.serve(false).orElseThrow();
    List<HttpResponse<String>> answers = new ArrayList<>();

    for (String token : new String[] {TOKEN, null, "a-wrong-token-but-long-enough"}) {
      for (String path :
          List.of(
              "/api/outbox/status", "/api/outbox/dead", "/api/dlq", "/api/dlq/" + id, "/api/dlq/groups",
              "/api/dlq/987654321", "/api/processed?eventId=" + e.id(), "/api/audit", "/api/audit?limit=-1",
              "/api/nowhere", "/", "/metrics", "/health/ready")) {
        answers.add(send(base, "GET", path, null, token));
      }
      answers.add(send(base, "POST", "/api/dlq/replay", "{\"ids\":[" + id + "],\"dryRun\":true}", token));
      answers.add(send(base, "POST", "/api/dlq/replay", "{\"rate\":-1}", token));
      answers.add(send(base, "POST", "/api/dlq/discard", "{not json", token));
      answers.add(send(base, "POST", "/api/history/replay", "{\"all\":true,\"dryRun\":true}", token));
    }
    // a failure inside the server: its answer carries a reference, not the database's words
    f.rows("DROP TABLE courier_audit");
    answers.add(send(base, "GET", "/api/audit", null, TOKEN));

    assertThat(answers.get(0).statusCode()).isEqualTo(200);
    assertThat(answers.getLast().statusCode()).isEqualTo(500);
    for (HttpResponse<String> a : answers) {
      String whole = a.headers().map() + "\n" + a.body();
      assertThat(LEAK.matcher(whole).find()).as("%s %s: %s", a.request().method(), a.uri(), whole).isFalse();
    }
    assertNoLeakInLogs();
  }

  private static HttpResponse<String> send(URI base, String method, String path, String body, String token)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(base.resolve(path))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private void assertNoLeakInLogs() {
    assertThat(logs.list).as("something was logged to check").isNotEmpty();
    for (ILoggingEvent event : logs.list) {
      String line =
          event.getFormattedMessage()
              + (event.getThrowableProxy() == null ? "" : "\n" + ThrowableProxyUtil.asString(event.getThrowableProxy()));
      assertThat(LEAK.matcher(line).find()).as(line).isFalse();
    }
  }
}
