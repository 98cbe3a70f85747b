package dev.courier.server.demo;

import dev.courier.CourierException;
import dev.courier.embedded.EmbeddedKafka;
import dev.courier.kafka.KafkaTransport;
import dev.courier.server.Components;
import dev.courier.server.Databases;
import dev.courier.server.config.CourierConfig;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The demo on Kafka: the configured cluster ({@code courier.kafka.bootstrap-servers}) or an
 * embedded broker. Each consumer is a group of its own, named after the run; what is on the topic
 * is read back record by record for the report ({@link TopicCensus}).
 */
final class KafkaDemoBroker extends DemoBroker {
  private static final Duration CENSUS_TIMEOUT = Duration.ofSeconds(60);

  private final CourierConfig config;
  private final String runId;
  private final EmbeddedKafka embedded; // null on a configured cluster
  private final String bootstrapServers;
  private final String topic;
  private final String description;
  private final Admin admin;
  private final KafkaTransport transport;
  private final TopicCensus census;

  private KafkaDemoBroker(
      CourierConfig config,
      String runId,
      EmbeddedKafka embedded,
      String bootstrapServers,
      String topic,
      String description) {
    this.config = config;
    this.runId = runId;
    this.embedded = embedded;
    this.bootstrapServers = bootstrapServers;
    this.topic = topic;
    this.description = description;
    Admin a = null;
    try {
      a = Admin.create(adminProperties());
      this.transport =
          Components.kafkaTransport(bootstrapServers, config.kafka(), "courier-demo-relay");
    } catch (RuntimeException e) {
      if (a != null) {
        a.close();
      }
      throw e;
    }
    this.admin = a;
    this.census = new TopicCensus(admin, bootstrapServers, topic);
  }

  static KafkaDemoBroker open(CourierConfig config, String runId, Consumer<String> say) {
    String topic = config.demo().topic();
    Optional<String> configured = config.kafka().configuredBootstrapServers();
    if (configured.isPresent()) {
      requireAnyReachable(configured.get());
      // An external cluster may hold an earlier run's topic: a topic of our own keeps the count
      // honest.
      return new KafkaDemoBroker(
          config,
          runId,
          null,
          configured.get(),
          topic + "-" + runId,
          "Kafka at " + configured.get());
    }
    say.accept("Starting an embedded Kafka broker (a child JVM, a few seconds)...");
    EmbeddedKafka broker;
    try {
      broker = EmbeddedKafka.builder().partitions(config.demo().partitions()).start();
    } catch (RuntimeException e) {
      throw new CourierException("cannot start the embedded Kafka broker: " + e.getMessage(), e);
    }
    try {
      return new KafkaDemoBroker(
          config,
          runId,
          broker,
          broker.bootstrapServers(),
          topic,
          "embedded broker at "
              + broker.bootstrapServers()
              + " (broker log "
              + broker.logFile()
              + ")");
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
  }

  /** Fails fast, naming the servers, when none of the configured bootstrap servers answers. */
  private static void requireAnyReachable(String bootstrapServers) {
    BrokerUnreachableException last = null;
    for (String server : bootstrapServers.split(",")) {
      String s = server.trim();
      int colon = s.lastIndexOf(':');
      if (colon <= 0) {
        continue; // the Kafka client reports a malformed address better
      }
      String host = s.substring(0, colon).replace("[", "").replace("]", "");
      int port;
      try {
        port = Integer.parseInt(s.substring(colon + 1));
      } catch (NumberFormatException e) {
        continue;
      }
      try {
        requireReachable(
            "Kafka",
            host,
            port,
            bootstrapServers,
            "Start that cluster, or run the demo without courier.kafka.bootstrap-servers (and"
                + " --kafka-bootstrap-servers) to use an embedded broker.");
        return;
      } catch (BrokerUnreachableException e) {
        last = e;
      }
    }
    if (last != null) {
      throw last;
    }
  }

  @Override
  String name() {
    return "kafka";
  }

  @Override
  String description() {
    return description;
  }

  @Override
  String destination() {
    return topic;
  }

  @Override
  String destinationDescription() {
    return "topic '" + topic + "'";
  }

  @Override
  Transport transport() {
    return transport;
  }

  @Override
  String prepare(List<String> consumers) {
    int partitions = config.demo().partitions();
    try {
      try {
        admin
            .createTopics(List.of(new NewTopic(topic, Optional.of(partitions), Optional.empty())))
            .all()
            .get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw e;
        }
      }
      // the first orders must not meet a partition that has no leader yet: its records would wait
      // for the producer's metadata and could stall until the delivery timeout
      EmbeddedKafka.awaitLeaders(admin, topic, Duration.ofSeconds(30));
    } catch (ExecutionException e) {
      throw new CourierException(
          "cannot create topic " + topic + ": " + Databases.rootMessage(e), e);
    } catch (TimeoutException e) {
      throw new CourierException(
          "topic " + topic + " was not ready (created, every partition led) within 30 s;"
              + " is Kafka reachable?",
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CourierException("interrupted while creating topic " + topic, e);
    }
    return "Kafka: " + description + ", topic " + topic + " (" + partitions + " partitions)";
  }

  /** The group of a consumer: named after the run, so that no other group is joined. */
  private String groupId(String consumer) {
    return "courier-demo-" + consumer + "-" + runId;
  }

  @Override
  SubscriptionSpec subscription(String consumer, int instance) {
    SubscriptionSpec spec = SubscriptionSpec.of(topic);
    for (var p : config.kafka().properties().entrySet()) {
      spec = spec.withOption(p.getKey(), p.getValue());
    }
    return spec.withOption(ConsumerConfig.GROUP_ID_CONFIG, groupId(consumer))
        .withOption(ConsumerConfig.CLIENT_ID_CONFIG, "courier-demo-" + consumer + "-" + instance);
  }

  /** Records of the topic the consumer's group has not committed past yet. */
  @Override
  long backlog(String consumer) {
    return census.lag(groupId(consumer));
  }

  @Override
  DemoReport.Wire census(Set<UUID> rolledBack, long rolledBackHandled) {
    TopicCensus.Counts onTopic = census.count(rolledBack, CENSUS_TIMEOUT);
    List<String> caveats = new ArrayList<>();
    caveats.add(
        "order per key holds: a key maps to one partition, read in offset order, and a record"
            + " waiting for a retry pauses its partition (and the keys that share it), not the"
            + " others.");
    caveats.add(
        "the idempotent producer removes only its own retries of a send: an event the relay"
            + " publishes again after a dropped confirmation is a second record on the topic,"
            + " read by every group.");
    if (embedded != null) {
      caveats.add(
          "one embedded broker: acks=all means that broker's page cache, not a replicated write.");
    }
    return new DemoReport.Wire(
        name(),
        destinationDescription(),
        List.of(
            new DemoReport.Fact(
                "records on topic '" + topic + "'", DemoReport.n(onTopic.records()), ""),
            new DemoReport.Fact(
                "distinct event ids on the topic", DemoReport.n(onTopic.distinctEventIds()), ""),
            new DemoReport.Fact(
                "duplicate records on the topic",
                DemoReport.n(onTopic.duplicates()),
                "records - distinct ids: republished events")),
        onTopic.rolledBack(),
        "every record on the topic read back",
        caveats);
  }

  private Properties adminProperties() {
    Properties p = new Properties();
    config.kafka().properties().forEach(p::put);
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "courier-demo-admin");
    return p;
  }

  /**
   * Closes the transport (if its wrapper has not) and the admin client, and stops the embedded
   * broker; the topic of a cluster stays.
   */
  @Override
  public void close() {
    transport.close();
    admin.close();
    if (embedded != null) {
      embedded.close();
    }
  }
}
