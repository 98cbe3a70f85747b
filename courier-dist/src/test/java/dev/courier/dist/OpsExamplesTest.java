package dev.courier.dist;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.courier.server.config.AdminToken;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import dev.courier.server.http.CourierHttpServer;
import dev.courier.server.http.Readiness;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The deployment examples under {@code ops/} and the example configuration of the archive: they
 * parse, their probes ask for what the server serves, and they name every setting they should.
 */
class OpsExamplesTest {
  private static final Path OPS = Path.of("../ops");
  private static final Path EXAMPLE_CONFIG = Path.of("src/dist/config/courier.properties");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Test
  void kubernetesManifests_parse_andEveryProbeHitsAnEndpointTheServerAnswers() throws Exception {
    List<JsonNode> docs = kubernetesDocuments();
    List<JsonNode> deployments = ofKind(docs, "Deployment");
    assertThat(deployments)
        .extracting(d -> d.at("/metadata/name").asText())
        .containsExactlyInAnyOrder("courier-relay", "courier-admin");
    Map<String, String> config = configMap(docs);

    List<String> probePaths = new ArrayList<>();
    for (JsonNode deployment : deployments) {
      for (JsonNode container : deployment.at("/spec/template/spec/containers")) {
        String name = deployment.at("/metadata/name").asText();
        JsonNode port = container.at("/ports/0");
        assertThat(port.at("/containerPort").asText())
            .as("%s listens where the probes knock (courier.http.port)", name)
            .isEqualTo(config.get("COURIER_HTTP_PORT"))
            .isEqualTo(String.valueOf(Integer.parseInt(Setting.HTTP_PORT.defaultValue().orElseThrow())));
        assertThat(config.get("COURIER_HTTP_HOST"))
            .as("the kubelet probes the pod's address, not loopback")
            .isEqualTo("0.0.0.0");
        JsonNode live = container.at("/livenessProbe/httpGet");
        JsonNode ready = container.at("/readinessProbe/httpGet");
        Map<String, String> env = new HashMap<>();
        container.at("/env").forEach(e -> env.put(e.at("/name").asText(), e.at("/value").asText()));
        boolean tls = env.containsKey(Setting.HTTP_TLS_KEYSTORE.envVariable());
        assertThat(tls || "true".equals(env.get(Setting.HTTP_ALLOW_PLAINTEXT.envVariable())))
            .as("%s on the pod's address serves HTTPS or allows plain HTTP explicitly, or it refuses to start", name)
            .isTrue();
        assertThat(List.of(live.at("/scheme").asText("HTTP"), ready.at("/scheme").asText("HTTP")))
            .as("%s probes speak what it serves", name)
            .containsOnly(tls ? "HTTPS" : "HTTP");
        if (container.at("/args/0").asText().equals("serve")) {
          assertThat(tls).as("%s serves the admin API, so over HTTPS", name).isTrue();
        }
        assertThat(live.at("/path").asText()).as("%s liveness", name).isEqualTo("/health/live");
        assertThat(ready.at("/path").asText()).as("%s readiness", name).isEqualTo("/health/ready");
        assertThat(List.of(live.at("/port").asText(), ready.at("/port").asText()))
            .as("%s probes the named container port", name)
            .containsOnly(port.at("/name").asText());
        probePaths.add(live.at("/path").asText());
        probePaths.add(ready.at("/path").asText());
        assertThat(container.at("/args/0").asText()).isIn("relay", "serve");
      }
    }

    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    CourierHttpServer server = CourierHttpServer.start("127.0.0.1", 0, registry, new Readiness(List.of()));
    try {
      HttpClient http = HttpClient.newHttpClient();
      for (String path : probePaths) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET %s: %s", path, r.body()).isEqualTo(200);
      }
    } finally {
      server.close();
      registry.close();
    }
  }

  @Test
  void kubernetesSecrets_areReferencedFromTheEnvironment_andEveryReferenceExists() throws Exception {
    List<JsonNode> docs = kubernetesDocuments();
    JsonNode secret = ofKind(docs, "Secret").getFirst();
    Map<String, String> config = configMap(docs);
    assertThat(config.keySet())
        .as("no secret in the ConfigMap")
        .doesNotContain(Setting.DB_PASSWORD.envVariable(), Setting.ADMIN_TOKEN.envVariable());

    Map<String, String> secretEnv = new HashMap<>();
    for (JsonNode deployment : ofKind(docs, "Deployment")) {
      for (JsonNode env : deployment.at("/spec/template/spec/containers/0/env")) {
        JsonNode ref = env.at("/valueFrom/secretKeyRef");
        if (!ref.isMissingNode()) {
          assertThat(ref.at("/name").asText()).isEqualTo(secret.at("/metadata/name").asText());
          assertThat(secret.at("/stringData").has(ref.at("/key").asText()))
              .as("secret key %s exists", ref.at("/key").asText())
              .isTrue();
          secretEnv.put(deployment.at("/metadata/name").asText() + "/" + env.at("/name").asText(), ref.at("/key").asText());
        }
      }
    }
    assertThat(secret.at("/stringData/admin-token").asText())
        .as("a placeholder the admin server refuses, so the example never runs with a known token")
        .hasSizeLessThan(AdminToken.MIN_LENGTH);
    assertThat(secretEnv)
        .containsEntry("courier-relay/COURIER_DB_PASSWORD", "db-password")
        .containsEntry("courier-admin/COURIER_DB_PASSWORD", "db-password")
        .containsEntry("courier-admin/COURIER_ADMIN_TOKEN", "admin-token")
        .containsEntry("courier-admin/COURIER_HTTP_TLS_KEYSTORE_PASSWORD", "keystore-password");
  }

  @Test
  void systemdUnits_runTheInstalledLauncher_andStopItWithSigterm() throws IOException {
    String relay = Files.readString(OPS.resolve("systemd/courier-relay@.service"));
    String serve = Files.readString(OPS.resolve("systemd/courier-serve.service"));
    assertThat(relay)
        .contains("ExecStart=/opt/courier/bin/courier relay -c /etc/courier/courier.properties --relay-id %H-%i")
        .contains("EnvironmentFile=/etc/courier/courier.env")
        .contains("KillSignal=SIGTERM")
        .contains("SuccessExitStatus=143");
    assertThat(serve)
        .contains("ExecStart=/opt/courier/bin/courier serve -c /etc/courier/courier.properties")
        .contains("EnvironmentFile=/etc/courier/courier.env");
    String env = Files.readString(OPS.resolve("systemd/courier.env.example"));
    assertThat(env)
        .contains(Setting.DB_PASSWORD.envVariable() + "=")
        .contains(Setting.ADMIN_TOKEN.envVariable() + "=");
  }

  @Test
  void exampleConfiguration_namesEverySettingAnOperatorSets_andLoadsWithEveryLineUncommented()
      throws IOException {
    String text = Files.readString(EXAMPLE_CONFIG);
    for (Setting s : Setting.values()) {
      if (s.key().startsWith("courier.demo.")) {
        continue;
      }
      if (s.secret()) {
        assertThat(text)
            .as("secret %s is named with its environment variable, never given a value", s.key())
            .contains(s.key() + "  ->  " + s.envVariable())
            .doesNotContain(s.key() + "=");
      } else {
        assertThat(text).as("example of %s", s.key()).contains("#" + s.key() + "=");
      }
    }

    // every example value is one the configuration accepts
    StringBuilder uncommented = new StringBuilder();
    try (Stream<String> lines = text.lines()) {
      lines
          .filter(l -> l.startsWith("#courier."))
          // NATS takes one way to authenticate; the example shows the user beside the credentials file
          .filter(l -> !l.startsWith("#courier.nats.user="))
          .forEach(l -> uncommented.append(l.substring(1)).append('\n'));
    }
    Path file = Files.createTempFile("courier-example-", ".properties");
    try {
      Files.writeString(file, uncommented);
      CourierConfig config = CourierConfig.loader().file(file).environment(Map.of()).load();
      assertThat(config.relay().relayId()).isEqualTo("relay-1");
    } finally {
      Files.delete(file);
    }
  }

  private static List<JsonNode> kubernetesDocuments() throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (Stream<Path> files = Files.list(OPS.resolve("kubernetes"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(f.toFile())) {
          while (it.hasNext()) {
            JsonNode doc = it.next();
            assertThat(doc.at("/apiVersion").asText()).as("apiVersion in %s", f).isNotBlank();
            assertThat(doc.at("/metadata/name").asText()).as("name in %s", f).isNotBlank();
            docs.add(doc);
          }
        }
      }
    }
    return docs;
  }

  private static List<JsonNode> ofKind(List<JsonNode> docs, String kind) {
    List<JsonNode> found = docs.stream().filter(d -> kind.equals(d.at("/kind").asText())).toList();
    assertThat(found).as("a %s in ops/kubernetes", kind).isNotEmpty();
    return found;
  }

  private static Map<String, String> configMap(List<JsonNode> docs) {
    Map<String, String> data = new HashMap<>();
    ofKind(docs, "ConfigMap").getFirst().at("/data").fields().forEachRemaining(e -> data.put(e.getKey(), e.getValue().asText()));
    return data;
  }
}
