package dev.courier.inbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.PoisonEventException;
import dev.courier.admin.Attribution;
import dev.courier.admin.InvalidRequestException;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.retry.RetryPolicy;
import dev.courier.testkit.TestClock;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Pausing a consumer: by itself when its dead letters pass the auto-pause threshold, or by an
 * operator from another process; while paused it processes, acknowledges and dead-letters nothing,
 * and an operator's resume lets it go on within a second. Every change is audited.
 */
class ConsumerPausesTest {
  private static final TestDatabase DB = TestDatabase.shared();
  private final TestClock clock = TestClock.now();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private PGSimpleDataSource db;
  private ConsumerPauses operator;

  @BeforeEach
  void setUp() {
    db = DB.freshSchema("pauses");
    Schema.migrate(db, CourierTables.DEFAULT);
    operator = new ConsumerPauses(db, CourierTables.DEFAULT, clock);
  }

  @AfterEach
  void tearDown() {
    DB.dropSchema(db);
  }

  private IdempotentProcessor.Builder consumer(String name) {
    return IdempotentProcessor.builder(
            name,
            db,
            (event, c) -> {
              if (event.type().equals("Bad")) {
                throw new PoisonEventException("bad " + event.key());
              }
              try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects (event_id) VALUES (?)")) {
                ps.setObject(1, event.id());
                ps.executeUpdate();
              }
            })
        .clock(clock)
        .meterRegistry(registry)
        .retryPolicy(RetryPolicy.builder().maxAttempts(1).initialDelay(Duration.ofMillis(1)).maxDelay(Duration.ofMillis(1)).build());
  }

  private static Event event(String type, String key) {
    return Event.builder(type).destination("orders").key(key).payload("{}").build(java.time.Instant.now());
  }

  @Test
  void aBurstOfDeadLetters_pausesTheConsumer_whichThenTakesNothing_untilAnOperatorResumesIt() throws Exception {
    exec("CREATE TABLE effects (event_id UUID NOT NULL)");
    IdempotentProcessor billing = consumer("billing").autoPause(3, Duration.ofMinutes(1)).build();

    for (int i = 0; i < 3; i++) {
      assertThat(billing.process(event("Bad", "k" + i), 1, "orders-0@" + i)).isInstanceOf(HandleOutcome.DeadLettered.class);
    }
    Event good = event("Good", "k9");

    assertThatThrownBy(() -> billing.process(good, 1, "orders-0@9"))
        .isInstanceOf(ConsumerPausedException.class)
        .hasMessageContaining("billing is paused")
        .hasMessageContaining("3 dead letters within 60 s");
    assertThatThrownBy(
            () ->
                billing.rejectMalformed(
                    null, "orders-0@10", new byte[] {1}, Map.of(), DeadLetterReason.MALFORMED, new InvalidEventException("x")))
        .as("nothing is dead-lettered while paused either")
        .isInstanceOf(ConsumerPausedException.class);
    assertThat(count("SELECT count(*) FROM effects")).isZero();
    assertThat(count("SELECT count(*) FROM courier_dead_letters")).isEqualTo(3);
    assertThat(count("SELECT count(*) FROM courier_processed_events")).isZero();
    assertThat(operator.pauseOf("billing")).hasValueSatisfying(p -> {
      assertThat(p.automatic()).isTrue();
      assertThat(p.pausedBy()).isEqualTo("courier auto-pause");
    });
    assertThat(count("SELECT count(*) FROM courier_audit WHERE action = 'consumer.auto-pause' AND target = 'billing'"))
        .isEqualTo(1);
    assertThat(registry.get(CourierMetrics.CONSUMER_PAUSED).tag("consumer", "billing").gauge().value()).isEqualTo(1);

    assertThat(operator.resume("billing", new Attribution("erin", "dependency fixed"))).isTrue();
    HandleOutcome after = processWithinTwoSeconds(billing, good);

    assertThat(after).isInstanceOf(HandleOutcome.Applied.class);
    assertThat(count("SELECT count(*) FROM effects")).isEqualTo(1);
    assertThat(registry.get(CourierMetrics.CONSUMER_PAUSED).tag("consumer", "billing").gauge().value()).isZero();
    assertThat(count("SELECT count(*) FROM courier_audit WHERE action = 'consumer.resume' AND operator = 'erin'"))
        .isEqualTo(1);
  }

  @Test
  void deadLettersSpreadWiderThanTheWindow_doNotPause() throws Exception {
    IdempotentProcessor billing = consumer("billing").autoPause(2, Duration.ofMinutes(1)).build();

    billing.process(event("Bad", "k1"), 1, "s@1");
    clock.advance(Duration.ofMinutes(2));
    billing.process(event("Bad", "k2"), 1, "s@2");

    assertThat(operator.pauseOf("billing")).isEmpty();
    assertThat(billing.process(event("Bad", "k3"), 1, "s@3")).isInstanceOf(HandleOutcome.DeadLettered.class);
    assertThat(operator.pauseOf("billing")).as("two within the minute").isPresent();
  }

  @Test
  void anOperatorsPause_fromAnotherProcess_stopsTheConsumerWithinASecond_andIsAudited() throws Exception {
    exec("CREATE TABLE effects (event_id UUID NOT NULL)");
    IdempotentProcessor shipping = consumer("shipping").build();
    assertThat(shipping.process(event("Good", "k1"), 1, "s@1")).isInstanceOf(HandleOutcome.Applied.class);

    assertThat(operator.pause("shipping", new Attribution("carol", "incident 42"), false)).isTrue();
    assertThat(operator.pause("shipping", new Attribution("dave", "again"), false)).as("already paused").isFalse();

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    Throwable refused = null;
    while (refused == null && System.nanoTime() < deadline) {
      try {
        shipping.process(event("Good", UUID.randomUUID().toString()), 1, "s@2");
        Thread.sleep(50);
      } catch (ConsumerPausedException e) {
        refused = e;
      }
    }
    assertThat(refused).as("paused within the check interval").isNotNull();
    assertThat(refused).hasMessageContaining("by carol: incident 42");
    assertThat(count("SELECT count(*) FROM courier_audit WHERE action = 'consumer.pause' AND operator = 'carol'"))
        .isEqualTo(1);
    assertThat(operator.list()).extracting(ConsumerPauses.Pause::consumer).containsExactly("shipping");
    assertThat(operator.resume("billing", new Attribution("carol", "not paused"))).isFalse();
  }

  @Test
  void badRequests_areRefused_changingNothing() {
    assertThatThrownBy(() -> operator.pause("billing", Attribution.of("carol"), false))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("reason:");
    assertThatThrownBy(() -> operator.pause("no spaces", new Attribution("carol", "x"), false))
        .isInstanceOf(InvalidRequestException.class)
        .hasMessageStartingWith("consumer:");
    assertThatThrownBy(() -> consumer("billing").autoPause(0, Duration.ofMinutes(1)))
        .hasMessageContaining("autoPause.deadLetters");
    assertThatThrownBy(() -> consumer("billing").autoPause(5, Duration.ofMillis(10)))
        .hasMessageContaining("autoPause.window");
    assertThat(operator.list()).isEmpty();
  }

  private HandleOutcome processWithinTwoSeconds(IdempotentProcessor p, Event e) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2) + IdempotentProcessor.PAUSE_CHECK_INTERVAL.toNanos();
    while (true) {
      try {
        return p.process(e, 1, "orders-0@9");
      } catch (ConsumerPausedException stillPaused) {
        if (System.nanoTime() > deadline) {
          throw stillPaused;
        }
        Thread.sleep(50);
      }
    }
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.execute();
    }
  }

  private long count(String sql) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
