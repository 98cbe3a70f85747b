package dev.courier.testkit.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.relay.Relay;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.chaos.FaultProxy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Network faults between Courier's clients and the broker, through a {@link FaultProxy}: the relay
 * and the consumer both connect to the proxy, which forwards to the real broker. While a writer
 * commits events through the outbox and the relay drains them, the link gets, one after another,
 * latency, a reset of every open connection, a blackhole, a half-open link (the broker's replies
 * dropped: publishes arrive, confirmations do not), a half-open link the other way, and sliced
 * writes, each healed before the next. Then: every committed event applied exactly once (lost 0,
 * duplicated effects 0), no dead row, no dead letter, everything drained after the last heal.
 * Copies that reached the broker twice (a lost confirmation republished) are allowed and counted:
 * the ledger turns each redelivery into a dedupe hit.
 *
 * <p>A transport module adds a subclass that builds its transport for a given host and port and
 * prepares a destination through a direct connection.
 */
public abstract class BrokerLinkFaultTest {
  private static final Logger log = LoggerFactory.getLogger(BrokerLinkFaultTest.class);

  /** Events committed per run. */
  protected static final int EVENTS = 2_000;

  /** The broker's host. */
  protected abstract String brokerHost();

  /** The broker's port (the proxy forwards to it). */
  protected abstract int brokerPort();

  /**
   * Builds a transport that connects to {@code host:port} (the proxy), with timeouts and
   * heartbeats short enough to notice a dead link within a few seconds.
   */
  protected abstract Transport createTransport(String host, int port);

  /**
   * Prepares a destination nobody has used, ready for publishing and for {@code consumer}'s
   * subscription, without going through the proxy; returns its name.
   */
  protected abstract String newDestination(String hint, String consumer);

  /** Deletes what {@link #newDestination} created; called after each run. */
  protected void deleteDestination(String destination, String consumer) {}

  /** The subscription spec for a destination; override to add transport options. */
  protected SubscriptionSpec spec(String destination) {
    return SubscriptionSpec.of(destination);
  }

  @Test
  void relayAndConsumer_throughLatencyResetBlackholeHalfOpenAndSlicing_loseNothing_andApplyEachEventOnce()
      throws Exception {
    List<String> faults = new ArrayList<>();
    try (FlowUnderFaults flow = new FlowUnderFaults("link_faults");
        FaultProxy proxy = FaultProxy.start(brokerHost(), brokerPort())) {
      String destination = newDestination("link-faults", flow.consumer);
      Transport relayTransport = createTransport(proxy.host(), proxy.port());
      Transport consumerTransport = createTransport(proxy.host(), proxy.port());
      Relay relay = flow.relay(relayTransport).build();
      Subscription subscription = null;
      Instant healed;
      try {
        subscription = consumerTransport.subscribe(spec(destination), flow.processor());
        relay.start();
        Thread writer =
            Thread.ofPlatform()
                .name("link-faults-writer")
                .start(
                    () -> {
                      try {
                        flow.write(destination, EVENTS, 10, Duration.ofSeconds(16));
                      } catch (Exception e) {
                        throw new IllegalStateException("the writer failed", e);
                      }
                    });

        Thread.sleep(1_000);
        fault(faults, "latency 25 ms per chunk each way, 2 s", () -> proxy.latency(Duration.ofMillis(25)));
        Thread.sleep(2_000);
        proxy.heal();
        Thread.sleep(500);
        fault(faults, "reset (RST) of every open connection", proxy::resetAll);
        Thread.sleep(1_500);
        fault(faults, "blackhole, 3 s", () -> proxy.blackhole(true));
        Thread.sleep(3_000);
        healAfterLoss(proxy);
        Thread.sleep(1_500);
        fault(faults, "half-open, broker replies dropped, 2.5 s", () -> proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true));
        Thread.sleep(2_500);
        healAfterLoss(proxy);
        Thread.sleep(1_500);
        fault(faults, "half-open, client bytes dropped, 2.5 s", () -> proxy.halfOpen(FaultProxy.Direction.UPSTREAM, true));
        Thread.sleep(2_500);
        healAfterLoss(proxy);
        Thread.sleep(1_000);
        fault(faults, "slicing into 7-byte writes, 2 s", () -> proxy.slicing(7, Duration.ZERO));
        Thread.sleep(2_000);
        proxy.heal();
        healed = Instant.now();
        writer.join(Duration.ofSeconds(60));
        assertThat(writer.isAlive()).as("the writer finished").isFalse();

        boolean drained =
            FlowUnderFaults.await(
                Duration.ofSeconds(60),
                () -> flow.outbox("PENDING") == 0 && flow.lost() == 0);
        Instant last = flow.lastEffect();
        long drainMillis = last == null ? -1 : Math.max(0, Duration.between(healed, last).toMillis());
        String report =
            String.format(
                "%s: %d events, faults %s, proxy connections %d (reset %d), republished rows %d,"
                    + " dedupe hits %.0f, effects %d, lost %d, duplicated effects %d, dead rows %d,"
                    + " dead letters %d, last effect %d ms after the last heal",
                getClass().getSimpleName(),
                flow.written(),
                faults,
                proxy.connectionsAccepted(),
                proxy.connectionsReset(),
                flow.republished(),
                flow.dedupeHits(),
                flow.effects(),
                flow.lost(),
                flow.duplicatedEffects(),
                flow.outbox("DEAD"),
                flow.deadLetters(),
                drainMillis);
        log.info(report);
        System.out.println(report);

        assertThat(drained).as("drained within 60 s of the last heal: " + report).isTrue();
        assertThat(flow.written()).isEqualTo(EVENTS);
        assertThat(flow.lost()).as("lost: " + report).isZero();
        assertThat(flow.duplicatedEffects()).as("duplicated effects: " + report).isZero();
        assertThat(flow.outbox("DEAD")).as("dead rows: " + report).isZero();
        assertThat(flow.deadLetters()).as("dead letters: " + report).isZero();
        assertThat(flow.effects()).isEqualTo(EVENTS);
        assertThat(subscription.isRunning()).as("the subscription is still running").isTrue();
      } finally {
        FlowUnderFaults.quietly(relay);
        FlowUnderFaults.quietly(subscription);
        FlowUnderFaults.quietly(relayTransport);
        FlowUnderFaults.quietly(consumerTransport);
        deleteDestination(destination, flow.consumer);
      }
    }
  }

  /**
   * Ends a fault that dropped bytes: heals the link and resets the connections that lived through
   * it. TCP never delivers a stream with a gap in it (lost segments are sent again, or the
   * connection dies), but the proxy's drop does leave one: a connection that carried on after it
   * would see bytes vanish from the middle of its stream, which no real network does (an AMQP
   * channel, for one, would count publishes the broker never saw, and its confirms would no longer
   * match). So a connection that lost bytes is ended, as its peer's heartbeat or keepalive would
   * end it, and the clients must reconnect.
   */
  private static void healAfterLoss(FaultProxy proxy) {
    proxy.heal();
    proxy.resetAll();
  }

  private static void fault(List<String> faults, String what, Runnable inject) {
    log.info("injecting: {}", what);
    faults.add(what);
    inject.run();
  }
}
