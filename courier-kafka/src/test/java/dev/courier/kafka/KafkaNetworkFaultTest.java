package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.embedded.EmbeddedKafka;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.chaos.FaultProxy;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay and the idempotent consumer talk to Kafka through a TCP fault proxy while events are
 * written: latency, writes sliced into a few bytes, connections reset, the link blackholed, replies
 * dropped (half-open). Every connection of both clients goes through the proxy: the broker
 * advertises the proxy's address on a listener of its own, so the partition leader and the group
 * coordinator are reached through it too. When the faults heal, every committed event has been
 * applied exactly once and in its key's order, and nothing was parked.
 */
class KafkaNetworkFaultTest {
  private static final Logger log = LoggerFactory.getLogger(KafkaNetworkFaultTest.class);
  private static final int BATCHES = 60;
  private static final int PER_BATCH = 50;
  private static final int KEYS = 20;

  private static FaultProxy proxy;
  private static EmbeddedKafka kafka;

  private DeliveryFixture db;

  @BeforeAll
  static void brokerBehindAProxy() throws IOException {
    int listener;
    try (ServerSocket s = new ServerSocket(0)) {
      listener = s.getLocalPort();
    }
    proxy = FaultProxy.start("127.0.0.1", listener);
    kafka =
        EmbeddedKafka.builder()
            .partitions(4)
            .maxHeap("384m")
            .proxiedListener(listener, proxy.port())
            .start();
  }

  @AfterAll
  static void stop() {
    if (kafka != null) {
      kafka.close();
    }
    if (proxy != null) {
      proxy.close();
    }
  }

  @BeforeEach
  void setUp() {
    db = new DeliveryFixture("netfault");
  }

  @AfterEach
  void tearDown() {
    proxy.heal();
    db.close();
  }

  @Test
  void latencySlicingResetsBlackholeAndHalfOpen_onTheBrokerLink_loseAndDoubleNothing() throws Exception {
    String topic = "netfault-" + UUID.randomUUID().toString().substring(0, 8);
    kafka.createTopic(topic, 4);
    String viaProxy = kafka.proxiedBootstrapServers();
    String name = "netfault-" + UUID.randomUUID().toString().substring(0, 8);
    MeterRegistry registry = DeliveryFixture.registry();

    KafkaIdempotentConsumer consumer =
        db.start(
            db.consumer(name, topic, registry)
                .bootstrapServers(viaProxy)
                .property("request.timeout.ms", 5_000)
                .property("default.api.timeout.ms", 10_000)
                .build());
    KafkaTransport transport =
        db.closeLater(
            KafkaTransport.builder()
                .bootstrapServers(viaProxy)
                .property("request.timeout.ms", 5_000)
                .property("delivery.timeout.ms", 15_000)
                .property("max.block.ms", 5_000)
                .build());
    Relay relay =
        db.closeLater(
            db.relay(transport)
                .publishTimeout(Duration.ofSeconds(8))
                // an outage delays events; it must not park them
                .retryPolicy(
                    RetryPolicy.builder()
                        .maxAttempts(1_000)
                        .initialDelay(Duration.ofMillis(50))
                        .maxDelay(Duration.ofSeconds(1))
                        .build())
                .build());
    relay.start();

    List<Event> written = new CopyOnWriteArrayList<>();
    ExecutorService writer = Executors.newSingleThreadExecutor();
    Future<?> writing =
        writer.submit(
            () -> {
              for (int b = 0; b < BATCHES; b++) {
                List<Event.Builder> batch = new ArrayList<>();
                for (int i = 0; i < PER_BATCH; i++) {
                  int n = b * PER_BATCH + i;
                  batch.add(DeliveryFixture.event(topic, "k" + (n % KEYS), "event " + n));
                }
                written.addAll(db.commit(batch.toArray(Event.Builder[]::new)));
                TimeUnit.MILLISECONDS.sleep(250);
              }
              return null;
            });
    try {
      pause(1_000);
      fault("latency 30 ms each way", () -> proxy.latency(Duration.ofMillis(30)), 2_000, false);
      fault("writes sliced into 7-byte pieces", () -> proxy.slicing(7, Duration.ofMillis(1)), 2_000, false);
      log.info("fault: reset every open connection ({} reset)", proxy.resetAll());
      pause(1_000);
      log.info("fault: reset every open connection ({} reset)", proxy.resetAll());
      pause(1_000);
      fault("blackhole", () -> proxy.blackhole(true), 4_000, true);
      fault("replies dropped (half-open)", () -> proxy.halfOpen(FaultProxy.Direction.DOWNSTREAM, true), 3_000, true);
      writing.get(2, TimeUnit.MINUTES);
    } finally {
      proxy.heal();
      writer.shutdownNow();
    }

    int total = BATCHES * PER_BATCH;
    assertThat(written).hasSize(total);
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> db.distinctEffects(name) == total);

    assertThat(db.effectRows(name)).as("no event applied twice").isEqualTo(total);
    assertThat(db.outboxCount("PUBLISHED")).isEqualTo(total);
    assertThat(db.deadLetters(name)).as("nothing parked").isEmpty();
    Map<UUID, String> keyOf = new HashMap<>();
    Map<String, List<UUID>> committedOrder = new LinkedHashMap<>();
    for (Event e : written) {
      keyOf.put(e.id(), e.key());
      committedOrder.computeIfAbsent(e.key(), k -> new ArrayList<>()).add(e.id());
    }
    Map<String, List<UUID>> appliedOrder = new LinkedHashMap<>();
    for (UUID id : db.appliedOrder(name)) {
      appliedOrder.computeIfAbsent(keyOf.get(id), k -> new ArrayList<>()).add(id);
    }
    assertThat(appliedOrder).as("each key's events applied in commit order").isEqualTo(committedOrder);
    assertThat(proxy.connectionsReset()).as("the resets reached live connections").isPositive();
    assertThat(proxy.bytesDropped()).as("the blackhole and the half-open link dropped bytes").isPositive();
    log.info(
        "network faults: {} events, {} wire duplicates absorbed, {} connections accepted, {} reset, {} cut",
        total,
        (long) DeliveryFixture.dedupeHits(registry, name),
        proxy.connectionsAccepted(),
        proxy.connectionsReset(),
        proxy.connectionsCut());
    consumer.close();
  }

  private static void fault(String what, Runnable inject, long millis, boolean bytesLost)
      throws InterruptedException {
    log.info("fault: {} for {} ms", what, millis);
    inject.run();
    pause(millis);
    proxy.heal();
    // where bytes were dropped, the connections open during the fault are out of step: a real
    // network ends them by timeouts; cut them as a router that gave up on them would
    log.info("healed {}; cut {} connections", what, bytesLost ? proxy.cutAll() : 0);
    pause(1_000);
  }

  private static void pause(long millis) throws InterruptedException {
    TimeUnit.MILLISECONDS.sleep(millis);
  }
}
