package dev.courier.nats;

import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.DroppedConfirmationsTest;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * JetStream with one PubAck in 1,000 lost on its way back (the shared suite): the republished
 * event is inside the duplicate window, so the server recognises it and stores it once.
 */
class NatsDroppedConfirmationsTest extends DroppedConfirmationsTest {
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
  protected Transport createTransport() {
    return JetStreamTransport.builder().servers(TestNats.URL).retryHorizon(Duration.ofSeconds(30)).build();
  }

  @Override
  protected String newDestination(String hint, String consumer) {
    String subject = TestNats.uniqueSubject(hint);
    nats.trackDefault(subject);
    try (JetStreamTransport direct = JetStreamTransport.builder().servers(TestNats.URL).retryHorizon(Duration.ofSeconds(30)).build()) {
      direct.ensureStream(subject);
    }
    return subject;
  }
}
