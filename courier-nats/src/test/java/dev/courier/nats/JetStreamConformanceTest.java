package dev.courier.nats;

import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.TransportConformanceTest;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The transport contract, run against the local nats-server with JetStream. */
class JetStreamConformanceTest extends TransportConformanceTest {
  private TestNats nats;

  @BeforeAll
  void connect() {
    nats = TestNats.connect();
  }

  @AfterAll
  void cleanUp() throws Exception {
    TestNats.ensureRunning(); // whatever a restart test left behind
    nats.close();
  }

  @Override
  protected Transport createTransport() {
    return JetStreamTransport.builder()
        .servers(TestNats.URL)
        .retryHorizon(Duration.ofMinutes(1))
        .build();
  }

  @Override
  protected String newDestination(String hint) {
    String subject = TestNats.uniqueSubject(hint);
    nats.trackDefault(subject);
    return subject;
  }

  @Override
  protected void restartBroker() throws Exception {
    TestNats.restartServer();
  }

  @Override
  protected SubscriptionSpec spec(String destination) {
    // A short ack wait, so that deliveries left unacknowledged by a crash come back within seconds.
    return SubscriptionSpec.of(destination).withOption(JetStreamTransport.OPTION_ACK_WAIT, "2s");
  }
}
