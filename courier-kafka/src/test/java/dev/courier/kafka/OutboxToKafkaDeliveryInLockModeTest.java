package dev.courier.kafka;

import dev.courier.relay.Relay;
import org.junit.jupiter.api.BeforeAll;

/**
 * Every test of {@link OutboxToKafkaDeliveryTest} with relays that hold their rows by row locks in
 * an open transaction ({@link Relay.ClaimMode#LOCK}) instead of a lease. The dying-relay test shows
 * the database ending the hung relay's idle transaction after the lease, which frees its row.
 */
class OutboxToKafkaDeliveryInLockModeTest extends OutboxToKafkaDeliveryTest {

  @BeforeAll
  static void setUp() {
    db = new DeliveryFixture("outbox_to_kafka_lock", Relay.ClaimMode.LOCK);
    db.execute("CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, item VARCHAR(64) NOT NULL)");
  }
}
