package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.Event;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * Courier's side of the peers' end-to-end comparisons: the writer commits a business row and {@link
 * Outbox#append} (relay woken by the append hook, as in W3), the {@link Relay} with a default {@link
 * KafkaTransport} publishes, and the {@link ArrivalClock} records the arrival of each record at a
 * plain consumer, exactly as it does for the peer.
 */
final class CourierArrival {
  private CourierArrival() {}

  /** The measurement itself, given a running relay, its outbox and the clock on {@code topic}. */
  @FunctionalInterface
  private interface Measurement<T> {
    T run(ArrivalClock clock, Outbox outbox) throws Exception;
  }

  static Histogram measure(BenchEnvironment env, HikariDataSource pool, String topic, BenchOptions o) {
    return withCourier(
        env,
        pool,
        topic,
        (clock, outbox) -> {
          try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            ArrivalClock.Writer writer =
                (i, due, payload) -> {
                  long orderId = BenchEvents.orderId(5, i);
                  BenchEvents.insertOrder(c, orderId);
                  outbox.append(c, BenchEvents.event(topic, orderId, payload));
                  c.commit();
                };
            // one event first, so that the producer, the relay and the consumer are connected
            writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
            clock.awaitArrived(1, Duration.ofSeconds(60));
            return clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
          }
        });
  }

  /**
   * W3's loaded runs: {@code writers} open-loop writers, each on a connection of its own, offering
   * {@code rate} events/s in transactions of {@code perTransaction} business rows and events.
   */
  static ArrivalClock.Loaded measureLoaded(
      BenchEnvironment env, HikariDataSource pool, String topic, double rate, BenchOptions o, int writers, int perTransaction) {
    return withCourier(
        env,
        pool,
        topic,
        (clock, outbox) -> {
          Connection[] connections = new Connection[writers];
          try {
            for (int w = 0; w < writers; w++) {
              connections[w] = pool.getConnection();
              connections[w].setAutoCommit(false);
            }
            ArrivalClock.TransactionWriter writer =
                (w, tx, payload, events) -> {
                  // the business rows in one batch and their events in one appendAll: a writer
                  // that made two round trips per event could not offer these rates on two cores
                  Connection c = connections[w];
                  long[] orderIds = new long[events];
                  List<Event.Builder> batch = new ArrayList<>(events);
                  for (int k = 0; k < events; k++) {
                    orderIds[k] = BenchEvents.orderId(6 + w, tx * events + k);
                    batch.add(BenchEvents.event(topic, orderIds[k], payload));
                  }
                  BenchEvents.insertOrders(c, orderIds);
                  outbox.appendAll(c, batch);
                  c.commit();
                };
            // one transaction first, so that the producer, the relay and the consumer are connected
            writer.write(0, 1L << 30, BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()), 1);
            clock.awaitArrived(1, Duration.ofSeconds(60));
            return clock.runParallel(
                rate, o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writers, perTransaction, writer);
          } finally {
            for (Connection c : connections) {
              if (c != null) {
                c.close();
              }
            }
          }
        });
  }

  /** Starts a relay (woken by the append hook) and the clock on {@code topic}, runs {@code m}, stops both. */
  private static <T> T withCourier(BenchEnvironment env, HikariDataSource pool, String topic, Measurement<T> m) {
    try (KafkaTransport transport =
            KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build();
        ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic)) {
      Relay relay = Relay.builder(pool, transport).build();
      Outbox outbox = Outbox.builder().onAppend(relay::wakeup).build();
      relay.start();
      try {
        return m.run(clock, outbox);
      } finally {
        relay.close();
      }
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("Courier's end-to-end run failed: " + e, e);
    }
  }
}
