package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.jdbc.CourierTables;
import dev.courier.server.config.RetentionSettings;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The prune schedule of long-running commands ({@code courier.retention.interval}). */
class RetentionScheduleTest {
  private AdminFixture f;

  @BeforeEach
  void setUp() {
    f = new AdminFixture("retention_schedule");
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void withAnInterval_prunesOnItsOwn_asOperatorSchedule() {
    Instant old = Instant.now().minus(Duration.ofDays(40));
    f.count("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1", UUID.randomUUID(), Timestamp.from(old));
    RetentionSettings settings =
        new RetentionSettings(
            Optional.of(Duration.ofDays(30)), Optional.empty(), Optional.empty(), true, Optional.empty(), Optional.empty(),
            Optional.of(Duration.ofMillis(100)));

    try (RetentionSchedule ignored = RetentionSchedule.start(f.db, CourierTables.DEFAULT, settings, Clock.systemUTC())) {
      await().atMost(Duration.ofSeconds(10))
          .until(() -> f.count("SELECT count(*) FROM courier_audit WHERE operator = 'schedule' AND action = 'prune'") >= 1);
    }
    assertThat(f.count("SELECT count(*) FROM courier_processed_events")).isZero();
  }

  @Test
  void withoutAnInterval_doesNothing() throws Exception {
    f.count("INSERT INTO courier_processed_events VALUES ('billing', ?, ?) RETURNING 1",
        UUID.randomUUID(), Timestamp.from(Instant.now().minus(Duration.ofDays(40))));
    RetentionSettings off =
        new RetentionSettings(Optional.of(Duration.ofDays(30)), Optional.empty(), Optional.empty(), true, Optional.empty(),
            Optional.empty(), Optional.empty());

    try (RetentionSchedule ignored = RetentionSchedule.start(f.db, CourierTables.DEFAULT, off, Clock.systemUTC())) {
      Thread.sleep(300);
    }
    assertThat(f.count("SELECT count(*) FROM courier_processed_events")).isEqualTo(1);
  }
}
