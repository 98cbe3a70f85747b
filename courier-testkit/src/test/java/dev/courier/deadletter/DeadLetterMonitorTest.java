package dev.courier.deadletter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.deadletter.DeadLetterGrowth.Queue;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.metrics.CourierMetrics;
import dev.courier.outbox.Outbox;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.testkit.TestClock;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** Dead-letter counts, their gauges, and the monitor that raises alerts on growth, on PostgreSQL. */
class DeadLetterMonitorTest {
  private PGSimpleDataSource db;
  private DeadLetterStore store;
  private final TestClock clock = TestClock.now();
  private final Recorder recorder = new Recorder();

  @BeforeEach
  void setUp() {
    db = TestDatabase.shared().freshSchema("dl_monitor");
    Schema.migrate(db, CourierTables.DEFAULT);
    store = new DeadLetterStore(db, CourierTables.DEFAULT);
  }

  @AfterEach
  void tearDown() {
    TestDatabase.shared().dropSchema(db);
  }

  @Test
  void growthAboveTheThresholdWithinTheWindow_isReportedOnce_thenResolvedWhenTheWindowMovesOn() {
    DeadLetterMonitor monitor = monitor(2, Duration.ofMinutes(1)).build();
    monitor.check();
    deadLetters("billing", 3);
    clock.advance(Duration.ofSeconds(10));

    DeadLetterMonitor.Status status = monitor.check();

    assertThat(status.healthy()).isFalse();
    assertThat(status.exceeding())
        .singleElement()
        .satisfies(
            g -> {
              assertThat(g.queue()).isEqualTo(Queue.CONSUMER);
              assertThat(g.name()).isEqualTo("billing");
              assertThat(g.before()).isZero();
              assertThat(g.now()).isEqualTo(3);
              assertThat(g.grownBy()).isEqualTo(3);
              assertThat(g.describe()).contains("consumer billing: 3 dead letters parked, +3 in the last 10s");
            });
    assertThat(recorder.growing).extracting(DeadLetterGrowth::name).containsExactly("billing");

    clock.advance(Duration.ofSeconds(10));
    monitor.check();
    assertThat(recorder.growing).as("told once per episode, not at every check").hasSize(1);

    clock.advance(Duration.ofMinutes(1));
    monitor.check();
    clock.advance(Duration.ofSeconds(10));
    DeadLetterMonitor.Status later = monitor.check();
    assertThat(later.healthy()).isTrue();
    assertThat(recorder.resolved).extracting(DeadLetterGrowth::now).containsExactly(3L);
  }

  @Test
  void deadLettersParkedBeforeTheMonitorStarted_areNotGrowth() {
    deadLetters("billing", 5);
    DeadLetterMonitor monitor = monitor(0, Duration.ofMinutes(5)).build();

    monitor.check();
    clock.advance(Duration.ofSeconds(15));
    DeadLetterMonitor.Status status = monitor.check();

    assertThat(status.healthy()).isTrue();
    assertThat(status.queues()).singleElement().extracting(DeadLetterGrowth::now).isEqualTo(5L);
    assertThat(recorder.growing).isEmpty();
  }

  @Test
  void outboxRowsParkedDead_areWatchedAsTheirOwnQueue() throws Exception {
    DeadLetterMonitor monitor =
        monitor(0, Duration.ofMinutes(5))
            .outbox(new OutboxAdmin(db, CourierTables.DEFAULT, clock, Duration.ZERO))
            .build();
    monitor.check();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      Outbox.builder().build().append(c, Event.builder("OrderConfirmed").destination("orders"));
      c.commit();
      try (Statement s = c.createStatement()) {
        s.executeUpdate("UPDATE courier_outbox SET status = 'DEAD', dead_at = now()");
      }
      c.commit();
    }

    DeadLetterMonitor.Status status = monitor.check();

    assertThat(status.exceeding())
        .singleElement()
        .satisfies(
            g -> {
              assertThat(g.queue()).isEqualTo(Queue.OUTBOX);
              assertThat(g.queueName()).isEqualTo("outbox courier_outbox");
              assertThat(g.grownBy()).isEqualTo(1);
            });
  }

  @Test
  void anUnreadableTable_isReportedInTheStatus_andTheMonitorKeepsChecking() throws Exception {
    DeadLetterMonitor monitor = monitor(0, Duration.ofMinutes(5)).build();
    monitor.check();
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("ALTER TABLE courier_dead_letters RENAME TO courier_dead_letters_away");
    }

    DeadLetterMonitor.Status broken = monitor.check();

    assertThat(broken.healthy()).isFalse();
    assertThat(broken.failure()).contains("could not count dead letters in courier_dead_letters");
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("ALTER TABLE courier_dead_letters_away RENAME TO courier_dead_letters");
    }
    assertThat(monitor.check().healthy()).isTrue();
  }

  @Test
  void backlogGauge_exportsDeclaredConsumersAtZero_andConsumersFoundLaterWhenCounted() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    DeadLetterAdmin admin =
        DeadLetterAdmin.builder(db).consumers(List.of("billing")).gaugeCacheTtl(Duration.ZERO).build();
    admin.bindTo(registry);

    assertThat(backlog(registry, "billing")).isZero();
    assertThat(registry.find(CourierMetrics.CONSUMER_DEAD_LETTER_BACKLOG).tag("consumer", "email").gauge())
        .isNull();

    deadLetters("email", 2);
    assertThat(admin.counts().byConsumer()).isEqualTo(Map.of("billing", 0L, "email", 2L));

    assertThat(backlog(registry, "email")).isEqualTo(2.0);
    Gauge g = registry.find(CourierMetrics.CONSUMER_DEAD_LETTER_BACKLOG).tag("consumer", "email").gauge();
    assertThat(g.getId().getDescription()).isNotBlank();
    assertThat(g.getId().getBaseUnit()).isEqualTo("events");
  }

  @Test
  void aMonitorWhoseWindowIsShorterThanItsInterval_isRefusedAtBuild() {
    DeadLetterAdmin admin = DeadLetterAdmin.builder(db).build();
    assertThatThrownBy(
            () ->
                DeadLetterMonitor.builder(admin)
                    .window(Duration.ofSeconds(5))
                    .checkInterval(Duration.ofSeconds(10))
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("window: must be at least checkInterval");
    assertThatThrownBy(() -> DeadLetterMonitor.builder(admin).threshold(-1).build())
        .hasMessage("threshold: must be 0 or more, was -1");
  }

  private DeadLetterMonitor.Builder monitor(long threshold, Duration window) {
    DeadLetterAdmin admin = DeadLetterAdmin.builder(db).clock(clock).gaugeCacheTtl(Duration.ZERO).build();
    return DeadLetterMonitor.builder(admin)
        .threshold(threshold)
        .window(window)
        .checkInterval(Duration.ofSeconds(10))
        .clock(clock)
        .listener(recorder);
  }

  private static double backlog(SimpleMeterRegistry registry, String consumer) {
    return registry.get(CourierMetrics.CONSUMER_DEAD_LETTER_BACKLOG).tag("consumer", consumer).gauge().value();
  }

  private void deadLetters(String consumer, int n) {
    for (int i = 0; i < n; i++) {
      Event e = Event.builder("OrderConfirmed").destination("orders").build(clock.instant());
      store.record(
          new DeadLetter(
              consumer,
              UUID.randomUUID(),
              e,
              "orders-0@" + i,
              null,
              Map.of(),
              DeadLetterReason.POISON,
              new PoisonEventException("bad order"),
              1,
              clock.instant(),
              clock.instant()));
    }
  }

  /** An alert listener that remembers what it was told. */
  private static final class Recorder implements AlertListener {
    final List<DeadLetterGrowth> growing = new ArrayList<>();
    final List<DeadLetterGrowth> resolved = new ArrayList<>();

    @Override
    public void onDeadLetterGrowth(DeadLetterGrowth growth) {
      growing.add(growth);
    }

    @Override
    public void onDeadLetterGrowthResolved(DeadLetterGrowth growth) {
      resolved.add(growth);
    }
  }
}
