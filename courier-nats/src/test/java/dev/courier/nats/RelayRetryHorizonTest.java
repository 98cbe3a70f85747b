package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.UnsafeConfigurationException;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A relay holds JetStream's dedupe window to its own retry horizon, not only to the one its
 * transport was built with.
 */
class RelayRetryHorizonTest {
  private TestDatabase db;
  private PGSimpleDataSource schema;
  private TestNats nats;
  private JetStreamTransport transport;

  @BeforeEach
  void setUp() {
    nats = TestNats.connect();
    db = TestDatabase.shared();
    schema = db.freshSchema("nats_horizon");
    Schema.migrate(schema, CourierTables.DEFAULT);
  }

  @AfterEach
  void tearDown() {
    if (transport != null) {
      transport.close();
    }
    nats.close();
    db.dropSchema(schema);
  }

  @Test
  void relayRetryingLongerThanItsTransportWasTold_refusesAStreamTheTransportAccepted() {
    String subject = TestNats.uniqueSubject("horizon");
    String stream = nats.trackDefault(subject);
    // built for a relay at its defaults (8m31s of backoff and 9 x 31 s = 13m10s): the stream gets 14m10s
    transport = JetStreamTransport.builder().servers(TestNats.URL).destinations(subject).build();
    assertThat(transport.duplicateWindow()).isEqualTo(Duration.ofMinutes(14).plusSeconds(10));
    Relay relay =
        Relay.builder(schema, transport)
            .retryPolicy(RetryPolicy.builder().maxAttempts(20).build())
            .publishTimeout(Duration.ofSeconds(10))
            .build();

    // 20 attempts: 1+2+...+256 s, then 10 x 5 m = 58m31s, plus 19 x (10 s + 1 s)
    assertThat(relay.retryHorizon()).isEqualTo(Duration.ofMinutes(62));
    assertThatThrownBy(relay::start)
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining(
            "duplicate_window 14m10s is shorter than the relay's retry horizon 1h2m; a republish"
                + " after the window is stored twice (stream "
                + stream
                + ")")
        .hasMessageContaining("nats stream edit " + stream + " --dupe-window 1h3m");
    assertThat(relay.state()).isEqualTo(Relay.State.NEW);
  }

  @Test
  void relayStart_createsThePendingRowsStreams_withAWindowCoveringItsRetryHorizon()
      throws Exception {
    String subject = TestNats.uniqueSubject("pending");
    String stream = nats.trackDefault(subject);
    try (Connection c = schema.getConnection()) {
      c.setAutoCommit(false);
      Outbox.builder()
          .build()
          .append(c, Event.builder("OrderPlaced").destination(subject).key("k").payload("{}"));
      c.commit();
    }
    transport = JetStreamTransport.builder().servers(TestNats.URL).build();
    Relay relay =
        Relay.builder(schema, transport)
            .minPollInterval(Duration.ofMinutes(1))
            .maxPollInterval(Duration.ofMinutes(1))
            .build();
    try {
      relay.start();

      // the defaults: 8m31s of backoff plus 9 x (30 s + 1 m) = 22m1s, and a minute of slack
      assertThat(relay.retryHorizon()).isEqualTo(Duration.ofMinutes(22).plusSeconds(1));
      assertThat(
              nats.connection()
                  .jetStreamManagement()
                  .getStreamInfo(stream)
                  .getConfiguration()
                  .getDuplicateWindow())
          .isEqualTo(Duration.ofMinutes(23).plusSeconds(1));
    } finally {
      relay.close();
    }
  }
}
