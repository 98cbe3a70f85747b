package dev.courier.server;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.jdbc.CourierTables;
import dev.courier.kafka.KafkaTransport;
import dev.courier.relay.Relay;
import dev.courier.server.config.KafkaSettings;
import dev.courier.server.config.RelaySettings;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
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
      throw new CourierException(
          "the outbox table "
              + tables.outbox()
              + " is not usable in "
              + where
              + " ("
              + e.getMessage().lines().findFirst().orElse("")
              + "); run 'courier migrate' first");
    }
  }
}
