package dev.courier.kafka;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.inbox.EventHandler;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Transport;
import dev.courier.testkit.SqlRows;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One PostgreSQL schema with Courier's tables and an {@code effects} table that handlers write to,
 * plus the pieces of the flow wired to it: outbox, relays over Kafka, processors and consumers.
 *
 * <p>The effects table has no unique key on the event id on purpose: a double effect must show up
 * as two rows, not be hidden by a constraint.
 */
final class DeliveryFixture implements AutoCloseable {
  /** Short publish retries, so that failure paths take milliseconds. */
  static final RetryPolicy FAST_RELAY_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(10)
          .initialDelay(Duration.ofMillis(10))
          .maxDelay(Duration.ofMillis(50))
          .jitter(false)
          .build();

  private final TestDatabase database = TestDatabase.shared();
  private final PGSimpleDataSource schema;
  private final HikariDataSource pool;
  private final Outbox outbox = Outbox.builder().maxPayloadBytes(4 * 1024 * 1024).build();
  private final List<AutoCloseable> resources = new ArrayList<>();

  private final Relay.ClaimMode claimMode;

  DeliveryFixture(String prefix) {
    this(prefix, Relay.ClaimMode.LEASE);
  }

  /** A fixture whose {@link #relay} builders use {@code claimMode}. */
  DeliveryFixture(String prefix, Relay.ClaimMode claimMode) {
    this.claimMode = claimMode;
    schema = database.freshSchema(prefix);
    HikariConfig config = new HikariConfig();
    config.setDataSource(schema);
    config.setMaximumPoolSize(6);
    config.setPoolName(prefix);
    pool = new HikariDataSource(config);
    Schema.migrate(pool, CourierTables.DEFAULT);
    if (claimMode == Relay.ClaimMode.LOG) {
      Schema.enableLogMode(pool, CourierTables.DEFAULT, 8);
    }
    execute(
        "CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, consumer VARCHAR(255) NOT NULL, event_id"
            + " UUID NOT NULL, event_type VARCHAR(255) NOT NULL, payload TEXT, applied_at"
            + " TIMESTAMPTZ NOT NULL DEFAULT now())");
  }

  DataSource dataSource() {
    return pool;
  }

  Outbox outbox() {
    return outbox;
  }

  /** Appends events in one transaction and commits it. */
  List<Event> commit(Event.Builder... events) {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      List<Event> stored = outbox.appendAll(c, List.of(events));
      c.commit();
      return stored;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  static Event.Builder event(String topic, String key, String payload) {
    return Event.builder("OrderPlaced")
        .destination(topic)
        .key(key)
        .payload(payload)
        .correlationId("corr-" + key);
  }

  /** A handler that records the event in the effects table, in the processor's transaction. */
  static EventHandler recordingEffect(String consumer) {
    return (event, c) -> {
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO effects (consumer, event_id, event_type, payload) VALUES (?, ?, ?,"
                  + " ?)")) {
        ps.setString(1, consumer);
        ps.setObject(2, event.id());
        ps.setString(3, event.type());
        ps.setString(4, new String(event.payload(), java.nio.charset.StandardCharsets.UTF_8));
        ps.executeUpdate();
      }
    };
  }

  IdempotentProcessor.Builder processor(
      String consumer, EventHandler handler, MeterRegistry registry) {
    return IdempotentProcessor.builder(consumer, pool, handler)
        .retryPolicy(
            RetryPolicy.builder()
                .maxAttempts(3)
                .initialDelay(Duration.ofMillis(20))
                .maxDelay(Duration.ofMillis(50))
                .jitter(false)
                .build())
        .meterRegistry(registry);
  }

  /** A consumer (not started) that applies {@link #recordingEffect} for {@code consumer}. */
  KafkaIdempotentConsumer.Builder consumer(String consumer, String topic, MeterRegistry registry) {
    return consumer(processor(consumer, recordingEffect(consumer), registry).build(), topic);
  }

  KafkaIdempotentConsumer.Builder consumer(IdempotentProcessor processor, String topic) {
    return KafkaIdempotentConsumer.builder()
        .bootstrapServers(TestKafka.bootstrap())
        .groupId("group-" + processor.consumer())
        .topics(topic)
        .processor(processor)
        .pollTimeout(Duration.ofMillis(100))
        // a paused partition is fetched again only after the fetch in flight returns: keep retries
        // quick
        .property("fetch.max.wait.ms", 50)
        .closeTimeout(Duration.ofSeconds(10));
  }

  /** Starts a consumer and closes it with the fixture. */
  KafkaIdempotentConsumer start(KafkaIdempotentConsumer consumer) {
    resources.add(consumer);
    consumer.start();
    return consumer;
  }

  KafkaTransport transport() {
    return closeLater(KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build());
  }

  /**
   * A transport that publishes for real and then never returns until {@code release} counts down:
   * a relay's thread as good as dead, holding what it claimed.
   */
  static Transport freezingAfterPublish(Transport delegate, java.util.concurrent.CountDownLatch release) {
    return new Transport() {
      @Override
      public String name() {
        return delegate.name();
      }

      @Override
      public List<dev.courier.spi.PublishResult> publish(List<Event> batch, Duration timeout) {
        List<dev.courier.spi.PublishResult> results = delegate.publish(batch, timeout);
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return results;
      }
    };
  }

  Relay.Builder relay(Transport transport) {
    return Relay.builder(pool, transport)
        .claimMode(claimMode)
        .retryPolicy(FAST_RELAY_RETRIES)
        .publishTimeout(Duration.ofSeconds(10))
        .lease(Duration.ofSeconds(30))
        .minPollInterval(Duration.ofMillis(5))
        .maxPollInterval(Duration.ofMillis(50));
  }

  <T extends AutoCloseable> T closeLater(T resource) {
    resources.add(resource);
    return resource;
  }

  static double counter(MeterRegistry registry, String name, String consumer) {
    Counter c = registry.find(name).tag("consumer", consumer).counter();
    return c == null ? 0 : c.count();
  }

  static double dedupeHits(MeterRegistry registry, String consumer) {
    return counter(registry, CourierMetrics.CONSUMER_DEDUPE_HITS, consumer);
  }

  static MeterRegistry registry() {
    return new SimpleMeterRegistry();
  }

  /** How many effect rows the consumer wrote for the event. */
  long effects(String consumer, UUID eventId) {
    return queryLong(
        "SELECT count(*) FROM effects WHERE consumer = ? AND event_id = ?", consumer, eventId);
  }

  long effectRows(String consumer) {
    return queryLong("SELECT count(*) FROM effects WHERE consumer = ?", consumer);
  }

  long distinctEffects(String consumer) {
    return queryLong("SELECT count(DISTINCT event_id) FROM effects WHERE consumer = ?", consumer);
  }

  /** Event ids in the order their effects were applied. */
  List<UUID> appliedOrder(String consumer) {
    List<UUID> ids = new ArrayList<>();
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT event_id FROM effects WHERE consumer = ? ORDER BY id")) {
      ps.setString(1, consumer);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getObject(1, UUID.class));
        }
      }
      return ids;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The outbox row of an event: status, attempts, last_error, seq; empty when there is no row. */
  Map<String, Object> outboxRow(UUID eventId) {
    return row(
        "SELECT status, attempts, last_error, seq FROM courier_outbox WHERE event_id = ?", eventId);
  }

  long outboxCount(String status) {
    return queryLong("SELECT count(*) FROM courier_outbox WHERE status = ?", status);
  }

  /** The consumer's dead letters, oldest first, as column maps. */
  List<Map<String, Object>> deadLetters(String consumer) {
    return rows(
        "SELECT event_id, reason, attempts, error_class, error_message, source, event_type FROM"
            + " courier_dead_letters WHERE consumer = ? ORDER BY id",
        consumer);
  }

  long queryLong(String sql, Object... params) {
    return SqlRows.queryLong(pool, sql, params);
  }

  Map<String, Object> row(String sql, Object... params) {
    return SqlRows.row(pool, sql, params);
  }

  List<Map<String, Object>> rows(String sql, Object... params) {
    return SqlRows.rows(pool, sql, params);
  }

  void execute(String sql) {
    SqlRows.execute(pool, sql);
  }

  /** Closes what the test left open (newest first), then the pool, and drops the schema. */
  @Override
  public void close() {
    closeResources();
    pool.close();
    database.dropSchema(schema);
  }

  /** Closes the resources a test registered, keeping the schema for the next test. */
  void closeResources() {
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        // keep closing the rest
      }
    }
    resources.clear();
  }
}
