package dev.courier.inbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.inbox.DeliveryPipeline.Delivery;
import dev.courier.inbox.DeliveryPipeline.Redelivery;
import dev.courier.inbox.DeliveryPipeline.Settlement;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.Decoded;
import dev.courier.spi.ReceivedMessage;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.OutageDataSource;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Several deliveries applied in one transaction ({@link IdempotentProcessor.Builder#applyInBatches},
 * {@link DeliveryPipeline#deliverAll}): one commit for the batch, each event still applied once,
 * and a failing event handled on its own. Against the real PostgreSQL; the handler records the
 * transaction it ran in, so the tests count transactions instead of assuming them.
 */
class BatchedDeliveryTest {
  private static final TestDatabase DB = TestDatabase.shared();
  private static final String DESTINATION = "orders";
  private static final String CONSUMER = "billing";

  private PGSimpleDataSource db;
  private final SubscriptionLifecycle lifecycle = new SubscriptionLifecycle();
  private final List<UUID> hooked = new CopyOnWriteArrayList<>();
  private final AtomicReference<Throwable> crashed = new AtomicReference<>();
  private final MeterRegistry registry = new SimpleMeterRegistry();
  private SubscriptionSpec.AfterCommitHook hook = e -> hooked.add(e.id());

  @BeforeEach
  void setUp() throws SQLException {
    db = DB.freshSchema("batched");
    Schema.migrate(db, CourierTables.DEFAULT);
    exec("CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, event_id UUID NOT NULL, tx BIGINT NOT NULL)");
    exec("CREATE TABLE clashes (v INT, CONSTRAINT one_v UNIQUE (v) DEFERRABLE INITIALLY DEFERRED)");
    lifecycle.started();
  }

  @AfterEach
  void tearDown() {
    DB.dropSchema(db);
  }

  @Test
  void aBatch_appliesEveryEventOnce_inOneTransaction_thenSettlesEachInOrder() throws Exception {
    List<Event> events = List.of(event("Good"), event("Good"), event("Good"), event("Good"), event("Good"));
    Acks acks = new Acks(true);

    List<Settlement> settled = pipeline(processor(db, 10)).deliverAll(deliveries(events, acks));

    assertThat(settled).containsOnly(Settlement.ACKNOWLEDGED).hasSize(5);
    assertThat(acks.calls).containsExactly(
        ack(events.get(0)), ack(events.get(1)), ack(events.get(2)), ack(events.get(3)), ack(events.get(4)));
    assertThat(hooked).containsExactlyElementsOf(events.stream().map(Event::id).toList());
    assertThat(appliedOrder()).containsExactlyElementsOf(events.stream().map(Event::id).toList());
    assertThat(count("SELECT count(DISTINCT tx) FROM effects")).as("one transaction").isEqualTo(1);
    assertThat(count("SELECT count(*) FROM courier_processed_events")).isEqualTo(5);
    assertThat(counter(CourierMetrics.CONSUMER_PROCESSED)).isEqualTo(5);
  }

  @Test
  void aBatchLargerThanTheLimit_takesOneTransactionPerLimit() throws Exception {
    List<Event> events = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      events.add(event("Good"));
    }

    pipeline(processor(db, 3)).deliverAll(deliveries(events, new Acks(true)));

    assertThat(count("SELECT count(*) FROM effects")).isEqualTo(7);
    assertThat(count("SELECT count(DISTINCT tx) FROM effects")).as("3 + 3 + 1").isEqualTo(3);
  }

  @Test
  void duplicates_inTheLedgerOrEarlierInTheSameBatch_areSkippedAndAcknowledged() throws Exception {
    Event seen = event("Good");
    Event fresh = event("Good");
    Event other = event("Good");
    DeliveryPipeline pipeline = pipeline(processor(db, 10));
    pipeline.deliver(decodable(seen), 1, "orders-0@0", new Acks(true).forEvent(seen.id()));
    hooked.clear();
    Acks acks = new Acks(true);

    List<Settlement> settled = pipeline.deliverAll(deliveries(List.of(seen, fresh, fresh, other), acks));

    assertThat(settled).containsOnly(Settlement.ACKNOWLEDGED).hasSize(4);
    assertThat(hooked).as("the hook runs for duplicates too").containsExactly(seen.id(), fresh.id(), fresh.id(), other.id());
    assertThat(appliedOrder()).containsExactly(seen.id(), fresh.id(), other.id());
    assertThat(counter(CourierMetrics.CONSUMER_DEDUPE_HITS)).isEqualTo(2);
    assertThat(counter(CourierMetrics.CONSUMER_PROCESSED)).isEqualTo(3);
  }

  @Test
  void aPoisonEventInABatch_isDeadLetteredAlone_andTheOthersAreAppliedOnce() throws Exception {
    Event first = event("Good");
    Event poison = event("Bad");
    Event third = event("Good");
    Event fourth = event("Good");
    Acks acks = new Acks(true);

    List<Settlement> settled =
        pipeline(processor(db, 10)).deliverAll(deliveries(List.of(first, poison, third, fourth), acks));

    assertThat(settled).containsExactly(
        Settlement.ACKNOWLEDGED, Settlement.TERMINATED, Settlement.ACKNOWLEDGED, Settlement.ACKNOWLEDGED);
    assertThat(acks.calls).containsExactly(ack(first), "terminate " + poison.id(), ack(third), ack(fourth));
    assertThat(appliedOrder()).as("rolled back with the batch, then applied once each").containsExactly(
        first.id(), third.id(), fourth.id());
    assertThat(rows("SELECT event_id, reason FROM courier_dead_letters"))
        .containsExactly(List.of(poison.id(), "POISON"));
    assertThat(count("SELECT count(*) FROM courier_processed_events")).as("the poison's ledger row rolled back").isEqualTo(3);
    assertThat(hooked).containsExactly(first.id(), poison.id(), third.id(), fourth.id());
  }

  @Test
  void aRetryInABatch_holdsBackTheDeliveriesAfterIt_withoutCountingTheirAttempts() throws Exception {
    Event first = event("Good");
    Event flaky = event("Flaky");
    Event behind = event("Good");
    Acks acks = new Acks(true);
    List<Delivery> deliveries = new ArrayList<>(deliveries(List.of(first, flaky), acks));
    deliveries.add(new Delivery(decodable(behind), 2, "orders-0@2", acks.forEvent(behind.id())));

    List<Settlement> settled = pipeline(processor(db, 10)).deliverAll(deliveries);

    assertThat(settled).containsExactly(Settlement.ACKNOWLEDGED, Settlement.REDELIVERING, Settlement.REDELIVERING);
    assertThat(acks.redeliveries).hasSize(2);
    Redelivery retry = acks.redeliveries.get(0);
    Redelivery held = acks.redeliveries.get(1);
    assertThat(retry.failedAttempts()).isEqualTo(1);
    assertThat(retry.outage()).isFalse();
    assertThat(held.failedAttempts()).as("its attempt 2 comes back as attempt 2").isEqualTo(1);
    assertThat(held.delay()).isEqualTo(retry.delay());
    assertThat(held.outage()).isFalse();
    assertThat(appliedOrder()).as("nothing after the retrying event is applied before it").containsExactly(first.id());
    assertThat(counter(CourierMetrics.CONSUMER_RETRIES)).isEqualTo(1);
  }

  @Test
  void whenTheDatabaseIsUnreachable_noDeliveryOfTheBatchIsAcknowledged_andOnlyOneTriesIt() throws Exception {
    OutageDataSource outage = new OutageDataSource(db);
    DeliveryPipeline pipeline = pipeline(processor(outage, 10));
    List<Event> events = List.of(event("Good"), event("Good"), event("Good"));
    outage.down(true);
    Acks acks = new Acks(true);

    List<Settlement> settled = pipeline.deliverAll(deliveries(events, acks));

    assertThat(settled).containsOnly(Settlement.REDELIVERING).hasSize(3);
    assertThat(acks.calls).allSatisfy(c -> assertThat(c).startsWith("redeliver"));
    assertThat(acks.redeliveries).allSatisfy(r -> {
      assertThat(r.outage()).isTrue();
      assertThat(r.failedAttempts()).as("no attempt used up").isZero();
      assertThat(r.delay()).isEqualTo(Duration.ofMillis(200));
    });
    assertThat(hooked).isEmpty();

    outage.down(false);
    Acks later = new Acks(true);
    assertThat(pipeline.deliverAll(deliveries(events, later))).containsOnly(Settlement.ACKNOWLEDGED);
    assertThat(appliedOrder()).containsExactlyElementsOf(events.stream().map(Event::id).toList());
  }

  @Test
  void aCommitThatFails_leavesNothingOfTheBatch_andEachDeliveryIsTriedOnItsOwn() throws Exception {
    Event first = event("Good");
    Event clash = event("Clash");
    Event third = event("Good");
    Acks acks = new Acks(true);

    List<Settlement> settled = pipeline(processor(db, 10)).deliverAll(deliveries(List.of(first, clash, third), acks));

    assertThat(settled).containsExactly(Settlement.ACKNOWLEDGED, Settlement.REDELIVERING, Settlement.REDELIVERING);
    assertThat(acks.calls).containsExactly(ack(first), "redeliver " + clash.id(), "redeliver " + third.id());
    assertThat(acks.redeliveries).allSatisfy(r -> assertThat(r.outage()).as("the database's failure, not the event's").isTrue());
    assertThat(appliedOrder()).as("the batch's commit failed; the first was applied on its own").containsExactly(first.id());
    assertThat(count("SELECT count(*) FROM courier_dead_letters")).isZero();
  }

  @Test
  void aHookThatThrowsInABatch_crashesTheSubscription_andNothingAfterItIsAcknowledged() throws Exception {
    List<Event> events = List.of(event("Good"), event("Good"), event("Good"));
    IllegalStateException boom = new IllegalStateException("killed after the commit");
    hook = e -> {
      if (e.id().equals(events.get(1).id())) {
        throw boom;
      }
      hooked.add(e.id());
    };
    Acks acks = new Acks(true);

    List<Settlement> settled = pipeline(processor(db, 10)).deliverAll(deliveries(events, acks));

    assertThat(settled).containsExactly(Settlement.ACKNOWLEDGED, Settlement.ABANDONED, Settlement.ABANDONED);
    assertThat(acks.calls).containsExactly(ack(events.get(0)));
    assertThat(crashed.get()).isSameAs(boom);
    assertThat(hooked).containsExactly(events.get(0).id());
    assertThat(count("SELECT count(*) FROM effects")).as("the batch committed before the hook").isEqualTo(3);
  }

  @Test
  void keyedEventsInOrderedMode_andReplaysAddressedToAConsumer_areProcessedOnTheirOwn_inTheirPlace() throws Exception {
    IdempotentProcessor ordered = builder(db, 10).orderedByKey(true).build();
    Event unkeyed1 = Event.builder("Good").destination(DESTINATION).payload("{}").build(Instant.now());
    Event unkeyed2 = Event.builder("Good").destination(DESTINATION).payload("{}").build(Instant.now());
    Event keyed = event("Good");
    Event unkeyed3 = Event.builder("Good").destination(DESTINATION).payload("{}").build(Instant.now());
    Event unkeyed4 = Event.builder("Good").destination(DESTINATION).payload("{}").build(Instant.now());
    Event elsewhere =
        Event.builder("Good")
            .destination(DESTINATION)
            .payload("{}")
            .header(ReceivedMessage.REPLAY_CONSUMER, "shipping")
            .header(ReceivedMessage.REPLAY_ID, "r1")
            .build(Instant.now());
    Acks acks = new Acks(true);

    List<Settlement> settled =
        pipeline(ordered).deliverAll(deliveries(List.of(unkeyed1, unkeyed2, keyed, elsewhere, unkeyed3, unkeyed4), acks));

    assertThat(settled).containsOnly(Settlement.ACKNOWLEDGED).hasSize(6);
    assertThat(appliedOrder()).containsExactly(unkeyed1.id(), unkeyed2.id(), keyed.id(), unkeyed3.id(), unkeyed4.id());
    assertThat(rows("SELECT count(*), count(DISTINCT event_id) FROM effects GROUP BY tx ORDER BY min(id)"))
        .as("two batches around the keyed event, which had its own transaction")
        .containsExactly(List.of(2L, 2L), List.of(1L, 1L), List.of(2L, 2L));
    assertThat(counter(CourierMetrics.CONSUMER_REPLAY_SKIPPED)).isEqualTo(1);
  }

  @Test
  void undecodableMessagesInARun_areDeadLetteredInTheirPlace() throws Exception {
    Event first = event("Good");
    Event last = event("Good");
    Acks acks = new Acks(true);
    Decoded.Undecodable malformed =
        new Decoded.Undecodable(
            null, DeadLetterReason.MALFORMED, new InvalidEventException("no event id"), Map.of(), new byte[] {1});
    List<Delivery> deliveries =
        List.of(
            new Delivery(decodable(first), 1, "orders-0@0", acks.forEvent(first.id())),
            new Delivery(malformed, 1, "orders-0@1", acks.forEvent(null)),
            new Delivery(decodable(last), 1, "orders-0@2", acks.forEvent(last.id())));

    List<Settlement> settled = pipeline(processor(db, 10)).deliverAll(deliveries);

    assertThat(settled).containsExactly(Settlement.ACKNOWLEDGED, Settlement.TERMINATED, Settlement.ACKNOWLEDGED);
    assertThat(acks.calls).containsExactly(ack(first), "terminate null", ack(last));
    assertThat(count("SELECT count(DISTINCT tx) FROM effects")).isEqualTo(1);
  }

  @Test
  void aDriverThatDoesNotReportEachRowsCount_makesTheProcessorApplyOneAtATime() throws Exception {
    db.setReWriteBatchedInserts(true); // pgjdbc then reports SUCCESS_NO_INFO for each batched row
    Event seen = event("Good");
    DeliveryPipeline pipeline = pipeline(processor(db, 10));
    pipeline.deliver(decodable(seen), 1, "orders-0@0", new Acks(true).forEvent(seen.id()));
    List<Event> events = List.of(seen, event("Good"), event("Good"));

    List<Settlement> settled = pipeline.deliverAll(deliveries(events, new Acks(true)));

    assertThat(settled).containsOnly(Settlement.ACKNOWLEDGED);
    assertThat(appliedOrder()).containsExactlyElementsOf(events.stream().map(Event::id).toList());
    assertThat(count("SELECT count(DISTINCT tx) FROM effects")).isEqualTo(3);
    assertThat(counter(CourierMetrics.CONSUMER_DEDUPE_HITS)).isEqualTo(1);
  }

  @Test
  void withoutBatches_processAllProcessesEachInATransactionOfItsOwn() throws Exception {
    IdempotentProcessor processor = processor(db, 1);
    List<Event> events = List.of(event("Good"), event("Good"), event("Good"));

    List<HandleOutcome> outcomes =
        processor.processAll(events.stream().map(e -> new IdempotentProcessor.Attempt(e, 1, "orders")).toList());

    assertThat(outcomes).hasSize(3).allSatisfy(o -> assertThat(o).isInstanceOf(HandleOutcome.Applied.class));
    assertThat(count("SELECT count(DISTINCT tx) FROM effects")).isEqualTo(3);
    assertThat(processor.batchSize()).isEqualTo(1);
  }

  @Test
  void theBatchLimit_isCheckedWhenSet() {
    assertThatThrownBy(() -> builder(db, 0))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("applyInBatches.maxEvents")
        .hasMessageContaining("from 1 to 1000");
    assertThatThrownBy(() -> builder(db, 1001)).isInstanceOf(ConfigurationException.class);
  }

  // ---------------------------------------------------------------------------------------------

  /** The transport's side, recorded in one list for the whole run, each call naming its event. */
  private static final class Acks {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final List<Redelivery> redeliveries = new CopyOnWriteArrayList<>();
    private final boolean redeliverable;

    Acks(boolean redeliverable) {
      this.redeliverable = redeliverable;
    }

    DeliveryPipeline.Acknowledger forEvent(UUID id) {
      return new DeliveryPipeline.Acknowledger() {
        @Override
        public void acknowledge() {
          calls.add("acknowledge " + id);
        }

        @Override
        public void terminate() {
          calls.add("terminate " + id);
        }

        @Override
        public void redeliver(Redelivery redelivery) {
          calls.add("redeliver " + id);
          redeliveries.add(redelivery);
        }

        @Override
        public boolean redeliverable() {
          return redeliverable;
        }
      };
    }
  }

  private static String ack(Event e) {
    return "acknowledge " + e.id();
  }

  private static List<Delivery> deliveries(List<Event> events, Acks acks) {
    List<Delivery> out = new ArrayList<>();
    for (int i = 0; i < events.size(); i++) {
      Event e = events.get(i);
      out.add(new Delivery(decodable(e), 1, "orders-0@" + i, acks.forEvent(e.id())));
    }
    return out;
  }

  private DeliveryPipeline pipeline(IdempotentProcessor processor) {
    return new DeliveryPipeline(
        processor, SubscriptionSpec.of(DESTINATION).withAfterCommit(e -> hook.afterCommit(e)), lifecycle, crashed::set);
  }

  private IdempotentProcessor processor(DataSource dataSource, int batch) {
    return builder(dataSource, batch).build();
  }

  /** A handler that records each effect with the id of the transaction it ran in. */
  private IdempotentProcessor.Builder builder(DataSource dataSource, int batch) {
    return IdempotentProcessor.builder(
            CONSUMER,
            dataSource,
            (event, c) -> {
              switch (event.type()) {
                case "Bad" -> throw new PoisonEventException("bad order");
                case "Flaky" -> throw new IllegalStateException("downstream unavailable");
                case "Clash" -> {
                  // passes here, fails at the commit: the deferred unique key is checked then
                  try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO clashes (v) VALUES (1), (1)");
                  }
                }
                default -> {
                  try (PreparedStatement ps =
                      c.prepareStatement("INSERT INTO effects (event_id, tx) VALUES (?, txid_current())")) {
                    ps.setObject(1, event.id());
                    ps.executeUpdate();
                  }
                }
              }
            })
        .retryPolicy(
            RetryPolicy.builder()
                .maxAttempts(3)
                .initialDelay(Duration.ofMillis(20))
                .maxDelay(Duration.ofMillis(40))
                .jitter(false)
                .build())
        .meterRegistry(registry)
        .applyInBatches(batch);
  }

  private static Event event(String type) {
    return Event.builder(type).destination(DESTINATION).key("k").payload("{}").build(Instant.now());
  }

  private static Decoded decodable(Event event) {
    return new Decoded.Decodable(event);
  }

  private double counter(String name) {
    var c = registry.find(name).tag("consumer", CONSUMER).counter();
    return c == null ? 0 : c.count();
  }

  private List<UUID> appliedOrder() throws SQLException {
    List<UUID> ids = new ArrayList<>();
    try (Connection c = db.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT event_id FROM effects ORDER BY id")) {
      while (rs.next()) {
        ids.add(rs.getObject(1, UUID.class));
      }
    }
    return ids;
  }

  private List<List<Object>> rows(String sql) throws SQLException {
    List<List<Object>> rows = new ArrayList<>();
    try (Connection c = db.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      int n = rs.getMetaData().getColumnCount();
      while (rs.next()) {
        List<Object> row = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
          row.add(rs.getObject(i));
        }
        rows.add(row);
      }
    }
    return rows;
  }

  private int count(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }
}
