package dev.courier.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.Event;
import dev.courier.FatalCourierException;
import dev.courier.InvalidEventException;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** The outbox write path against a real PostgreSQL: one transaction, the caller's. */
class OutboxPostgresTest {
  private static PGSimpleDataSource db;
  private final Outbox outbox = Outbox.builder().maxPayloadBytes(1024).build();

  @BeforeAll
  static void schema() throws SQLException {
    db = TestDatabase.shared().freshSchema("outbox_test");
    Schema.migrate(db, CourierTables.DEFAULT);
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    }
  }

  @AfterAll
  static void drop() {
    TestDatabase.shared().dropSchema(db);
  }

  @Test
  void migrate_twice_isHarmless() {
    assertThat(Schema.migrate(db, CourierTables.DEFAULT))
        .as("the schema is at the newest version already: nothing to apply")
        .isZero();
    assertThat(Schema.currentVersion(db, CourierTables.DEFAULT)).isEqualTo(Schema.LATEST_VERSION);
  }

  @Test
  void append_commitsWithTheBusinessRow_andVanishesWithItsRollback() throws SQLException {
    Event kept;
    Event rolledBack;
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      insertOrder(c, "o-kept");
      kept = outbox.append(c, Event.builder("OrderConfirmed").destination("orders").key("o-kept"));
      c.commit();
      insertOrder(c, "o-gone");
      rolledBack = outbox.append(c, Event.builder("OrderConfirmed").destination("orders").key("o-gone"));
      c.rollback();
    }
    assertThat(rowsWithId(kept.id())).isEqualTo(1);
    assertThat(rowsWithId(rolledBack.id())).isZero();
  }

  @Test
  void append_isInvisibleToOthersUntilTheCallerCommits() throws SQLException {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      Event e = outbox.append(c, Event.builder("T").destination("d"));
      assertThat(rowsWithId(e.id())).as("another connection sees nothing before commit").isZero();
      c.commit();
      assertThat(rowsWithId(e.id())).isEqualTo(1);
    }
  }

  @Test
  void append_inAutoCommitMode_isRefusedAndWritesNothing() throws SQLException {
    UUID id = UUID.randomUUID();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(true);
      assertThatThrownBy(() -> outbox.append(c, Event.builder("T").destination("d").id(id)))
          .isInstanceOf(FatalCourierException.class)
          .hasMessageContaining("auto-commit");
    }
    assertThat(rowsWithId(id)).isZero();
  }

  @Test
  void append_payloadOverTheLimit_isRefusedWithSizeAndLimit() throws SQLException {
    UUID id = UUID.randomUUID();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      assertThatThrownBy(
              () -> outbox.append(c, Event.builder("T").destination("d").id(id).payload(new byte[1025])))
          .isInstanceOf(InvalidEventException.class)
          .hasMessageContaining("1025 bytes")
          .hasMessageContaining("limit of 1024")
          .hasMessageContaining(id.toString());
      c.commit();
    }
    assertThat(rowsWithId(id)).isZero();
  }

  @Test
  void appendAll_withOneInvalidEvent_writesNone() throws SQLException {
    UUID good = UUID.randomUUID();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      assertThatThrownBy(
              () ->
                  outbox.appendAll(
                      c,
                      List.of(
                          Event.builder("T").destination("d").id(good),
                          Event.builder("T").destination("d").key("k".repeat(300)))))
          .isInstanceOf(InvalidEventException.class)
          .hasMessageContaining("key is 300 characters");
      c.commit();
    }
    assertThat(rowsWithId(good)).isZero();
  }

  @Test
  void appendAll_storesEveryFieldInOneBatch() throws SQLException {
    List<Event> stored;
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      stored =
          outbox.appendAll(
              c,
              List.of(
                  Event.builder("A").destination("d1").key("k").payload("one").correlationId("corr").causationId("cause").header("h", "v"),
                  Event.builder("B").destination("d2").payload("two")));
      c.commit();
    }
    assertThat(stored).hasSize(2);
    try (Connection c = db.getConnection();
        var ps = c.prepareStatement("SELECT event_type, destination, event_key, payload, headers, correlation_id, causation_id, status, attempts FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, stored.getFirst().id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo("A");
        assertThat(rs.getString(2)).isEqualTo("d1");
        assertThat(rs.getString(3)).isEqualTo("k");
        assertThat(new String(rs.getBytes(4))).isEqualTo("one");
        assertThat(rs.getString(5)).isEqualTo("{\"h\":\"v\"}");
        assertThat(rs.getString(6)).isEqualTo("corr");
        assertThat(rs.getString(7)).isEqualTo("cause");
        assertThat(rs.getString(8)).isEqualTo("PENDING");
        assertThat(rs.getInt(9)).isZero();
      }
    }
  }

  @Test
  void append_withAnIdAlreadyInTheOutbox_isRefusedAsInvalid() throws SQLException {
    UUID id = UUID.randomUUID();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      outbox.append(c, Event.builder("T").destination("d").id(id));
      c.commit();
      assertThatThrownBy(() -> outbox.append(c, Event.builder("T").destination("d").id(id)))
          .isInstanceOf(InvalidEventException.class)
          .hasMessageContaining("already in the outbox");
      c.rollback();
    }
  }

  @Test
  void onAppend_listenerIsCalledWithTheEvents_andItsFailureDoesNotFailTheWrite() throws SQLException {
    List<List<Event>> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    Outbox hinted =
        Outbox.builder()
            .onAppend(seen::add)
            .onAppend(() -> {
              throw new IllegalStateException("listener bug");
            })
            .build();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      Event e = hinted.append(c, Event.builder("T").destination("d"));
      c.commit();
      assertThat(seen).hasSize(1);
      assertThat(seen.getFirst()).containsExactly(e);
    }
  }

  @Test
  void status_countsPendingAndDeadPerDestination() throws SQLException {
    PGSimpleDataSource own = TestDatabase.shared().freshSchema("outbox_status");
    try {
      Schema.migrate(own, CourierTables.DEFAULT);
      try (Connection c = own.getConnection()) {
        c.setAutoCommit(false);
        outbox.append(c, Event.builder("T").destination("a"));
        outbox.append(c, Event.builder("T").destination("a"));
        Event dead = outbox.append(c, Event.builder("T").destination("b"));
        c.commit();
        try (var ps = c.prepareStatement("UPDATE courier_outbox SET status = 'DEAD' WHERE event_id = ?")) {
          ps.setObject(1, dead.id());
          ps.executeUpdate();
        }
        c.commit();
      }
      OutboxStatus s = new OutboxAdmin(own, CourierTables.DEFAULT).status();
      assertThat(s.pending()).isEqualTo(2);
      assertThat(s.dead()).isEqualTo(1);
      assertThat(s.oldestPendingCreatedAt()).isNotNull();
      assertThat(s.destinations())
          .extracting(OutboxStatus.Destination::destination, OutboxStatus.Destination::pending, OutboxStatus.Destination::dead)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("a", 2L, 0L), org.assertj.core.groups.Tuple.tuple("b", 0L, 1L));
    } finally {
      TestDatabase.shared().dropSchema(own);
    }
  }

  private static void insertOrder(Connection c, String id) throws SQLException {
    try (var ps = c.prepareStatement("INSERT INTO orders (id) VALUES (?)")) {
      ps.setString(1, id);
      ps.executeUpdate();
    }
  }

  private static int rowsWithId(UUID id) throws SQLException {
    try (Connection c = db.getConnection();
        var ps = c.prepareStatement("SELECT count(*) FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }
}
