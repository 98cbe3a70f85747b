package dev.courier.server;

import dev.courier.ConfigurationException;
import dev.courier.jdbc.CourierTables;
import dev.courier.UnsafeConfigurationException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.kafka.KafkaTransport;
import dev.courier.nats.JetStreamTransport;
import dev.courier.rabbitmq.RabbitMqTransport;
import dev.courier.relay.Relay;
import dev.courier.server.config.KafkaSettings;
import dev.courier.server.config.NatsSettings;
import dev.courier.server.config.RabbitMqSettings;
import dev.courier.server.config.RelaySettings;
import dev.courier.server.config.Setting;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import javax.sql.DataSource;

/** Builds Courier's parts from the loaded settings; shared by {@code relay} and {@code demo}. */
public final class Components {
  private Components() {}

  /** A Kafka transport for the given servers, with the pass-through client properties. */
  public static KafkaTransport kafkaTransport(
      String bootstrapServers, KafkaSettings kafka, String clientId) {
    KafkaTransport.Builder b =
        KafkaTransport.builder().bootstrapServers(bootstrapServers).clientId(clientId);
    kafka.properties().forEach(b::property);
    return b.build();
  }

  /**
   * A RabbitMQ transport with the {@code courier.rabbitmq.*} settings. The transport's refusals
   * stand: turning off publisher confirms, {@code mandatory} or persistent messages fails here,
   * naming the setting and the risk; there is no setting that accepts them.
   *
   * @param uri the AMQP URI (the configured one, or the demo's default)
   * @throws ConfigurationException naming the {@code courier.rabbitmq.*} key
   */
  public static RabbitMqTransport rabbitMqTransport(
      String uri, RabbitMqSettings s, String connectionName) {
    RabbitMqTransport.Builder b =
        RabbitMqTransport.builder()
            .uri(uri)
            .connectionName(connectionName)
            .publisherConfirms(s.publisherConfirms())
            .mandatory(s.mandatory())
            .persistentMessages(s.persistentMessages());
    if (s.password() != null) {
      if (holdsPassword(uri)) {
        throw new ConfigurationException(
            Setting.RABBITMQ_PASSWORD.key(),
            "is set, and "
                + Setting.RABBITMQ_URI.key()
                + " holds a password too; keep the password in one place");
      }
      b.password(s.password());
    }
    try {
      return b.build();
    } catch (ConfigurationException e) {
      throw renamed(
          e,
          Map.of(
              "uri", Setting.RABBITMQ_URI,
              "password", Setting.RABBITMQ_PASSWORD,
              "publisherConfirms", Setting.RABBITMQ_PUBLISHER_CONFIRMS,
              "mandatory", Setting.RABBITMQ_MANDATORY,
              "persistentMessages", Setting.RABBITMQ_PERSISTENT_MESSAGES));
    }
  }

  /** Whether a URI carries a password in its user information ({@code user:password@}). */
  static boolean holdsPassword(String uri) {
    try {
      String info = URI.create(uri.strip()).getRawUserInfo();
      return info != null && info.indexOf(':') >= 0;
    } catch (IllegalArgumentException e) {
      return false; // the transport reports a malformed URI, without echoing it
    }
  }

  /**
   * A JetStream transport with the {@code courier.nats.*} settings, holding every stream's
   * duplicate window to {@code retryHorizon} (streams it creates get that horizon plus a minute,
   * unless {@code courier.nats.duplicate-window} says otherwise, and a shorter window is refused).
   * It connects at once.
   *
   * @param url the server URLs, comma-separated
   * @throws ConfigurationException naming the {@code courier.nats.*} key
   * @throws dev.courier.RetriableCourierException if the server cannot be reached
   */
  public static JetStreamTransport jetStreamTransport(
      String url,
      NatsSettings s,
      Duration retryHorizon,
      String connectionName,
      MeterRegistry registry) {
    JetStreamTransport.Builder b =
        JetStreamTransport.builder()
            .servers(url.split(","))
            .connectionName(connectionName)
            .retryHorizon(retryHorizon)
            .replicas(s.replicas())
            .meterRegistry(registry);
    if (s.duplicateWindow() != null) {
      b.duplicateWindow(s.duplicateWindow());
    }
    if (s.token() != null) {
      b.token(s.token().toCharArray());
    } else if (s.user() != null) {
      b.userInfo(s.user(), s.password().toCharArray());
    } else if (s.credentialsFile() != null) {
      b.credentialsFile(s.credentialsFile());
    }
    try {
      return b.build();
    } catch (ConfigurationException e) {
      throw renamed(
          e,
          Map.of(
              "servers", Setting.NATS_URL,
              "credentialsFile", Setting.NATS_CREDENTIALS_FILE,
              "duplicateWindow", Setting.NATS_DUPLICATE_WINDOW,
              "replicas", Setting.NATS_REPLICAS));
    }
  }

  /**
   * A transport's configuration error as the operator configured it: the builder's parameter
   * replaced by the {@code courier.*} key, and for a refused unsafe setting the library's override
   * left out (the command offers none). The original is not attached: its message names that
   * override.
   */
  static ConfigurationException renamed(ConfigurationException e, Map<String, Setting> keys) {
    String message = e.getMessage();
    String prefix = e.setting() + ": ";
    if (message.startsWith(prefix)) {
      message = message.substring(prefix.length());
    }
    Setting key = keys.get(e.setting());
    String setting = key == null ? e.setting() : key.key();
    if (e instanceof UnsafeConfigurationException) {
      int override = message.indexOf(" To accept this risk explicitly");
      if (override >= 0) {
        message = message.substring(0, override);
      }
      return new ConfigurationException(
          setting, message + " Courier refuses to run with it; there is no setting to accept it.");
    }
    return new ConfigurationException(setting, message);
  }

  /** A relay with every {@code courier.relay.*} setting applied. */
  public static Relay relay(
      DataSource dataSource,
      Transport transport,
      CourierTables tables,
      RelaySettings s,
      MeterRegistry registry) {
    Relay.Builder b =
        Relay.builder(dataSource, transport)
            .tables(tables)
            .batchSize(s.batchSize())
            .batchesInFlight(s.batchesInFlight())
            .claimMode(s.claimMode())
            .deletePublished(s.deletePublished())
            .retryPolicy(s.retryPolicy())
            .publishTimeout(s.publishTimeout())
            .lease(s.lease())
            .minPollInterval(s.minPollInterval())
            .maxPollInterval(s.maxPollInterval())
            .heartbeatInterval(s.heartbeatInterval())
            .stallLimit(s.stallLimit())
            .destinations(s.destinations().toArray(String[]::new))
            .meterRegistry(registry);
    if (s.relayId() != null) {
      b.relayId(s.relayId());
    }
    try {
      return b.build();
    } catch (ConfigurationException e) {
      // CourierConfig checks these combinations already; this names the file keys if one slips by
      throw new ConfigurationException("courier.relay." + e.setting(), e.getMessage());
    }
  }

  /**
   * Fails with a clear message when Courier's outbox table is not there, instead of letting a relay
   * log the same SQL error on every pass.
   */
  public static void requireOutboxTable(DataSource dataSource, CourierTables tables, String where) {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("SELECT 1 FROM " + tables.outbox() + " WHERE 1 = 0");
    } catch (SQLException e) {
      throw DatabaseFailures.of(
          "the outbox table "
              + tables.outbox()
              + " is not usable in "
              + where
              + "; if it is missing, run 'courier migrate' first",
          e);
    }
  }
}
