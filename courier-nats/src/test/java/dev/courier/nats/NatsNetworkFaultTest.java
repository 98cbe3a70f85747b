package dev.courier.nats;

import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.BrokerLinkFaultTest;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * NATS JetStream behind a fault proxy: latency, resets, a blackhole, half-open links and sliced
 * writes between the relay and the server and between the server and the consumer (the shared
 * suite).
 */
class NatsNetworkFaultTest extends BrokerLinkFaultTest {
  /**
   * The shared suite's relay retries up to 1,000 times (about 52 minutes, publish timeouts
   * included): the stream's duplicate window must cover that, or the relay refuses to publish to it.
   */
  private static final Duration FLOW_RETRY_HORIZON = Duration.ofHours(1);

  private static TestNats nats;

  @BeforeAll
  static void connect() {
    nats = TestNats.connect();
  }

  @AfterAll
  static void disconnect() {
    if (nats != null) {
      nats.close(); // deletes the streams it tracked
    }
  }

  @Override
  protected String brokerHost() {
    return TestNats.HOST;
  }

  @Override
  protected int brokerPort() {
    return TestNats.PORT;
  }

  @Override
  protected Transport createTransport(String host, int port) {
    return JetStreamTransport.builder()
        .servers("nats://" + host + ":" + port)
        .connectionName("courier-link-faults")
        .connectionTimeout(Duration.ofSeconds(2))
        .retryHorizon(FLOW_RETRY_HORIZON)
        .build();
  }

  @Override
  protected String newDestination(String hint, String consumer) {
    String subject = TestNats.uniqueSubject(hint);
    nats.trackDefault(subject);
    try (JetStreamTransport direct =
        JetStreamTransport.builder().servers(TestNats.URL).retryHorizon(FLOW_RETRY_HORIZON).build()) {
      direct.ensureStream(subject);
    }
    return subject;
  }

  @Override
  protected SubscriptionSpec spec(String destination) {
    // a delivery lost with a dead connection comes back after the ack wait
    return SubscriptionSpec.of(destination).withOption(JetStreamTransport.OPTION_ACK_WAIT, "3s");
  }
}
