package dev.courier.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.embedded.KafkaEndpoint;
import dev.courier.kafka.KafkaHeaders;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The release archive, unpacked as an operator would and run with only a JDK: its version, its
 * migration and a relay that publishes to Kafka.
 */
class DistributionTest {
  private static Installation installation;

  @BeforeAll
  static void unpack() throws Exception {
    installation = Installation.unpack();
  }

  @AfterAll
  static void remove() throws Exception {
    if (installation != null) {
      installation.close();
    }
  }

  @Test
  void archive_holdsTheLauncher_theLibraries_anExampleConfiguration_theSchema_andTheNotices() {
    Path home = installation.home();
    assertThat(home.resolve("bin/courier")).isExecutable();
    assertThat(home.resolve("bin/find-jdk.sh")).isRegularFile();
    assertThat(home.resolve("lib/courier-server-" + Installation.version() + ".jar")).isRegularFile();
    assertThat(home.resolve("config/courier.properties")).isRegularFile();
    assertThat(home.resolve("schema/postgresql/V1__courier.sql")).isRegularFile();
    assertThat(home.resolve("schema/postgresql/V2__log_mode.sql")).isRegularFile();
    assertThat(home.resolve("schema/postgresql/V3__dead_letter_payload_size.sql")).isRegularFile();
    assertThat(home.resolve("LICENSE")).isRegularFile();
    assertThat(home.resolve("THIRD-PARTY-NOTICES.md")).isRegularFile();
    assertThat(home.resolve("ops/systemd/courier-relay@.service")).isRegularFile();
    assertThat(home.resolve("ops/kubernetes/relay.yaml")).isRegularFile();
  }

  @Test
  void lib_isTheServersRuntimeClassPath_everyJarListedInTheThirdPartyList_andNoTestJar() throws Exception {
    Path home = installation.home();
    List<String> jars;
    try (var files = Files.list(home.resolve("lib"))) {
      jars = files.map(p -> p.getFileName().toString()).sorted().toList();
    }
    List<String> listed =
        Files.readAllLines(home.resolve("THIRD-PARTY-LIBRARIES.txt")).stream()
            .map(String::strip)
            .filter(l -> l.contains(":jar:"))
            .map(l -> l.split(" ")[0].split(":"))
            // group:artifact:jar[:classifier]:version:scope
            .map(c -> c.length > 5 ? c[1] + "-" + c[4] + "-" + c[3] + ".jar" : c[1] + "-" + c[3] + ".jar")
            .sorted()
            .toList();

    assertThat(jars).hasSizeGreaterThan(20).isEqualTo(listed);
    assertThat(jars)
        .as("test-scoped jars of the build stay out")
        .noneMatch(j -> j.startsWith("assertj-") || j.startsWith("jackson-dataformat-yaml-"));
    assertThat(jars)
        .as("the demo's engines come without the test kit and its test frameworks")
        .anyMatch(j -> j.startsWith("courier-embedded-"))
        .noneMatch(
            j ->
                j.startsWith("courier-testkit-")
                    || j.startsWith("junit-")
                    || j.startsWith("opentest4j-"));
  }

  @Test
  void version_printsTheArchivesVersion() throws Exception {
    Installation.Run run = installation.run(Map.of(), "--version");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out().strip()).isEqualTo("courier " + Installation.version());
  }

  @Test
  void launcher_findsItsInstallation_throughASymbolicLink() throws Exception {
    Path links = Files.createDirectories(installation.parent().resolve("usr-local-bin"));
    Path link = Files.createSymbolicLink(links.resolve("courier"), installation.home().resolve("bin/courier"));

    Installation.Run run = installation.run(link, Map.of(), "--version");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out().strip()).isEqualTo("courier " + Installation.version());
  }

  @Test
  void withoutJava21_theLauncherSaysWhatIsMissing_andExits1() throws Exception {
    Path empty = Files.createTempDirectory("no-jdk-");
    Map<String, String> env = new HashMap<>();
    env.put("JAVA_HOME", empty.toString());
    env.put("COURIER_JDK_SEARCH_PATHS", empty + "/*");

    Installation.Run run = installation.run(env, "--version");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
    assertThat(run.err())
        .contains("JAVA_HOME=" + empty + " is not usable: not a Java installation (no bin/java)")
        .contains("no JDK 21 or newer was found")
        .contains("needs Java 21 or newer to run it")
        .contains("export JAVA_HOME=");
    Files.delete(empty);
  }

  @Test
  void migrate_thenRelay_publishEveryAppendedEvent_withTheHostNameAsRelayId() throws Exception {
    TestDatabase db = TestDatabase.shared();
    String schema = "courier_dist_" + UUID.randomUUID().toString().substring(0, 8);
    String topic = "courier-dist-" + UUID.randomUUID();
    KafkaEndpoint kafka = KafkaEndpoint.fromEnvironmentOrEmbedded();
    // created up front: a producer racing the broker's automatic creation of a topic can stall on
    // OUT_OF_ORDER_SEQUENCE_NUMBER until its delivery timeout
    kafka.createTopic(topic, 1);
    String bootstrap = kafka.bootstrapServers();
    Map<String, String> settings = new HashMap<>();
    settings.put("COURIER_DB_URL", db.jdbcUrl());
    settings.put("COURIER_DB_SCHEMA", schema);
    if (db.user() != null) {
      settings.put("COURIER_DB_USER", db.user());
    }
    if (db.password() != null) {
      settings.put("COURIER_DB_PASSWORD", db.password());
    }
    settings.put("COURIER_KAFKA_BOOTSTRAP_SERVERS", bootstrap);
    settings.put("COURIER_HTTP_PORT", "0");
    Installation.Started relay = null;
    try {
      Installation.Run migrate = installation.run(settings, "migrate");
      assertThat(migrate.exitCode()).as(migrate.toString()).isZero();
      assertThat(migrate.out()).contains("(schema " + schema + ")").contains("are in place");

      PGSimpleDataSource ds = schemaSource(db, schema);
      List<String> appended = new ArrayList<>();
      Outbox outbox = Outbox.builder().build();
      try (Connection c = ds.getConnection()) {
        c.setAutoCommit(false);
        for (int i = 0; i < 3; i++) {
          Event e =
              outbox.append(
                  c, Event.builder("OrderConfirmed").destination(topic).key("order-" + i).payload("{}"));
          appended.add(e.id().toString());
        }
        c.commit();
      }

      // the process gets the settings from the environment, and the configuration file shipped
      // in the archive: every line of it is a comment, so it changes nothing
      Installation.Started running =
          installation.start(settings, "relay", "-c", installation.home().resolve("config/courier.properties").toString());
      relay = running;
      await()
          .atMost(Duration.ofSeconds(45))
          .untilAsserted(
              () -> {
                assertThat(running.process().isAlive()).as(running.output()).isTrue();
                assertThat(publishedCount(ds)).isEqualTo(3);
              });
      assertThat(eventIdsOn(bootstrap, topic, 3)).containsExactlyInAnyOrderElementsOf(appended);

      Matcher at =
          Pattern.compile("metrics at (http://127\\.0\\.0\\.1:\\d+/)metrics").matcher(running.err());
      assertThat(at.find()).as(running.output()).isTrue();
      String metrics = get(URI.create(at.group(1)).resolve("/metrics"));
      String host = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
      assertThat(metrics)
          .as("the default relay id is the host name, which a restart keeps")
          .contains("courier_relay_running_relays{relay=\"" + host + "\",transport=\"kafka\"} 1.0");

      // SIGTERM, as systemd and Kubernetes stop it: the relay finishes its pass and exits
      running.process().destroy();
      assertThat(running.process().waitFor(60, TimeUnit.SECONDS)).as(running.output()).isTrue();
      assertThat(running.err()).contains("stopping (finishing the pass in flight)");
      assertThat(running.process().exitValue()).as(running.output()).isIn(0, 143);
    } finally {
      if (relay != null && relay.process().isAlive()) {
        relay.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      db.dropSchema(schema);
    }
  }

  private static PGSimpleDataSource schemaSource(TestDatabase db, String schema) {
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(db.jdbcUrl());
    if (db.user() != null) {
      ds.setUser(db.user());
    }
    if (db.password() != null) {
      ds.setPassword(db.password());
    }
    ds.setCurrentSchema(schema);
    return ds;
  }

  private static int publishedCount(PGSimpleDataSource ds) throws Exception {
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM courier_outbox WHERE status = 'PUBLISHED'");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static String get(URI uri) throws Exception {
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("GET %s", uri).isEqualTo(200);
    return r.body();
  }

  private static List<String> eventIdsOn(String bootstrap, String topic, int expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "courier-dist-test-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    List<String> ids = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (ids.size() < expected && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          ids.add(new String(r.headers().lastHeader(KafkaHeaders.EVENT_ID).value(), StandardCharsets.UTF_8));
        }
      }
    }
    return ids;
  }
}
