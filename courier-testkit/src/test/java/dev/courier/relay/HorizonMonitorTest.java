package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.metrics.CourierMetrics;
import dev.courier.testkit.Servers;
import dev.courier.testkit.TestClock;
import dev.courier.testkit.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The horizon monitor on real PostgreSQL: a transaction that takes an id and stays open on another
 * connection holds the horizon, and the monitor names it and measures how long and how far. The
 * monitor's clock is moved instead of sleeping.
 *
 * <p>The shared server is shared with every other test (and, on a developer's machine, with other
 * people's): another session's transaction may hold the horizon when a test starts. A test that
 * needs its own transaction at the horizon therefore checks until the older ones have ended, which
 * short transactions do within moments.
 */
@Timeout(120)
class HorizonMonitorTest {
  private static final Duration OLDER_TRANSACTIONS_END = Duration.ofSeconds(60);
  private static EmbeddedPostgres twoPhaseServer;

  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<HorizonMonitor> monitors = new ArrayList<>();
  private Connection holding;
  private String role;

  @AfterEach
  void tearDown() throws Exception {
    monitors.forEach(HorizonMonitor::close);
    if (holding != null) {
      holding.close();
    }
    if (role != null) {
      execute(TestDatabase.shared().dataSource(), "DROP ROLE IF EXISTS " + role);
    }
    registry.close();
  }

  @AfterAll
  static void stopTwoPhaseServer() throws IOException {
    if (twoPhaseServer != null) {
      twoPhaseServer.close();
    }
  }

  @Test
  void monitor_whenATransactionHoldsAnIdOpen_namesItsBackend_andALagThatGrows() throws Exception {
    DataSource db = TestDatabase.shared().dataSource();
    String application = "courier-horizon-" + run;
    Holder h = holdAnId(db, application);
    TestClock clock = TestClock.at(h.started().plusSeconds(1));
    HorizonMonitor monitor = monitor(HorizonMonitor.builder(db).clock(clock));
    monitor.bindTo(registry);

    HorizonLag first = untilHeldBy(monitor, h);

    assertThat(first.heldBack()).isTrue();
    assertThat(first.holder())
        .isInstanceOfSatisfying(
            HorizonHolder.Backend.class,
            b -> {
              assertThat(b.pid()).isEqualTo(h.pid());
              assertThat(b.applicationName()).isEqualTo(application);
              assertThat(b.database()).isEqualTo(h.database());
              assertThat(b.state()).isEqualTo("idle in transaction");
              assertThat(b.transactionStart()).isEqualTo(h.started());
              assertThat(b.describe())
                  .isEqualTo(
                      "backend pid " + h.pid() + " (application '" + application + "', database "
                          + h.database() + ", user " + b.user() + ", idle in transaction)");
            });
    assertThat(first.horizon()).isEqualTo(h.xid());
    assertThat(first.age()).isEqualTo(Duration.ofSeconds(1));
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_LAG)).isEqualTo(1.0);
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_XID_DISTANCE)).isEqualTo(first.xidDistance());

    // five more transactions take ids and commit; ninety seconds pass
    for (int i = 0; i < 5; i++) {
      execute(db, "SELECT pg_current_xact_id()");
    }
    clock.advance(Duration.ofSeconds(90));
    HorizonLag later = monitor.check().lag();

    assertThat(later.holder()).isEqualTo(first.holder());
    assertThat(later.horizon()).as("the horizon has not moved").isEqualTo(first.horizon());
    assertThat(later.age()).isEqualTo(Duration.ofSeconds(91));
    assertThat(later.xidDistance()).isGreaterThanOrEqualTo(first.xidDistance() + 5);
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_LAG)).isEqualTo(91.0);
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_XID_DISTANCE)).isEqualTo(later.xidDistance());
    assertThat(later.describe())
        .startsWith("backend pid " + h.pid())
        .contains("holds the horizon at xid " + h.xid())
        .endsWith("for 91s");

    holding.commit();
    HorizonLag after = monitor.check().lag();

    assertThat(after.horizon()).as("the horizon moves on once it ends").isGreaterThan(h.xid());
    assertThat(after.holder()).isNotEqualTo(first.holder());
  }

  @Test
  void monitor_whenTheHolderRunsInAnotherDatabaseOfTheCluster_namesThatDatabase() throws Exception {
    DataSource db = TestDatabase.shared().dataSource();
    String here;
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      here = single(s, "SELECT current_database()", String.class);
    }
    String elsewhere = here.equals("postgres") ? "template1" : "postgres";
    Holder h = holdAnId(inDatabase(elsewhere), "courier-horizon-" + run);
    HorizonMonitor monitor = monitor(HorizonMonitor.builder(db).clock(TestClock.at(h.started())));

    HorizonLag lag = untilHeldBy(monitor, h);

    assertThat(lag.holder())
        .isInstanceOfSatisfying(
            HorizonHolder.Backend.class,
            b -> {
              assertThat(b.pid()).isEqualTo(h.pid());
              assertThat(b.database()).isEqualTo(elsewhere).isNotEqualTo(here);
            });
  }

  @Test
  void monitor_whenItsRoleLacksPgReadAllStats_stillNamesTheHolder_andMeasuresTheLagFromWhenItFirstSawIt()
      throws Exception {
    DataSource db = TestDatabase.shared().dataSource();
    role = "courier_horizon_" + run;
    execute(db, "CREATE ROLE " + role + " NOLOGIN");
    String application = "courier-horizon-" + run;
    Holder h = holdAnId(db, application);
    TestClock clock = TestClock.at(h.started().plusSeconds(30));
    HorizonMonitor monitor = monitor(HorizonMonitor.builder(as(role)).clock(clock));

    HorizonLag first = untilHeldBy(monitor, h);
    clock.advance(Duration.ofSeconds(60));
    HorizonLag later = monitor.check().lag();

    assertThat(later.holder())
        .isInstanceOfSatisfying(
            HorizonHolder.Backend.class,
            b -> {
              assertThat(b.pid()).isEqualTo(h.pid());
              assertThat(b.applicationName()).isEqualTo(application);
              assertThat(b.database()).isEqualTo(h.database());
              assertThat(b.state()).as("hidden from other roles").isNull();
              assertThat(b.transactionStart()).as("hidden from other roles").isNull();
              assertThat(b.describe()).contains("state not visible to this role");
            });
    assertThat(first.heldSince()).as("when the monitor first saw it").isEqualTo(first.measuredAt());
    assertThat(later.age())
        .as("a lower bound: the transaction is 90 s old, the monitor has seen it for 60")
        .isEqualTo(Duration.ofSeconds(60));
    assertThat(later.describe()).endsWith("for at least 60s");

    execute(db, "GRANT pg_read_all_stats TO " + role);
    HorizonLag granted = monitor.check().lag();

    assertThat(granted.holder().since()).isEqualTo(h.started());
    assertThat(granted.age()).isEqualTo(Duration.ofSeconds(90));
  }

  @Test
  void monitor_whenAPreparedTransactionHoldsTheHorizon_namesItsGidOwnerAndDatabase()
      throws Exception {
    DataSource db = twoPhaseDatabase();
    String gid = "courier-horizon-" + run;
    Instant preparedAt;
    long xid;
    String database;
    String owner;
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      xid = single(s, "SELECT pg_current_xact_id()::text::bigint", Long.class); // takes an id
      database = single(s, "SELECT current_database()", String.class);
      owner = single(s, "SELECT current_user", String.class);
      s.execute("PREPARE TRANSACTION '" + gid + "'");
      c.setAutoCommit(true);
      preparedAt =
          single(s, "SELECT prepared FROM pg_prepared_xacts WHERE gid = '" + gid + "'", OffsetDateTime.class)
              .toInstant();
    } // the session is gone; the prepared transaction stays
    try {
      TestClock clock = TestClock.at(preparedAt);
      HorizonMonitor monitor = monitor(HorizonMonitor.builder(db).clock(clock));
      untilHeldBy(monitor, l -> l.horizon() == xid);
      clock.advance(Duration.ofMinutes(10));

      HorizonLag lag = monitor.check().lag();

      assertThat(lag.holder())
          .isEqualTo(new HorizonHolder.PreparedTransaction(gid, preparedAt, owner, database));
      assertThat(lag.age()).isEqualTo(Duration.ofMinutes(10));
      assertThat(lag.describe())
          .startsWith("prepared transaction '" + gid + "' (database " + database + ", owner " + owner)
          .endsWith("for 600s");
    } finally {
      execute(db, "ROLLBACK PREPARED '" + gid + "'");
    }
    HorizonLag after = monitor(HorizonMonitor.builder(db)).check().lag();
    assertThat(after.horizon()).isGreaterThan(xid);
  }

  @Test
  void monitor_whenTheDatabaseCannotBeReached_recordsTheFailure_andItsGaugesReadNaN() {
    PGSimpleDataSource nowhere = new PGSimpleDataSource();
    nowhere.setUrl("jdbc:postgresql://127.0.0.1:1/none");
    nowhere.setConnectTimeout(2);
    HorizonMonitor monitor = monitor(HorizonMonitor.builder(nowhere));
    monitor.bindTo(registry);

    HorizonMonitor.Status s = monitor.check();

    assertThat(s.lag()).isNull();
    assertThat(s.failure()).startsWith("cannot read the transaction horizon: ");
    assertThat(monitor.lastStatus()).contains(s);
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_LAG)).isNaN();
    assertThat(gauge(CourierMetrics.OUTBOX_HORIZON_XID_DISTANCE)).isNaN();
  }

  @Test
  void builder_refusesACheckIntervalThatIsNotPositive() {
    assertThatThrownBy(
            () -> HorizonMonitor.builder(TestDatabase.shared().dataSource()).checkInterval(Duration.ZERO).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("checkInterval")
        .hasMessageContaining("must be a positive duration");
  }

  // ----------------------------------------------------------------------------------------------

  private HorizonMonitor monitor(HorizonMonitor.Builder b) {
    HorizonMonitor m = b.build();
    monitors.add(m);
    return m;
  }

  /** A transaction, open on {@link #holding}, that took a transaction id. */
  private record Holder(int pid, long xid, Instant started, String database) {}

  private Holder holdAnId(DataSource db, String application) throws SQLException {
    holding = db.getConnection();
    holding.setClientInfo("ApplicationName", application);
    holding.setAutoCommit(false);
    try (Statement s = holding.createStatement()) {
      long xid = single(s, "SELECT pg_current_xact_id()::text::bigint", Long.class);
      Instant started = single(s, "SELECT now()", OffsetDateTime.class).toInstant();
      int pid = single(s, "SELECT pg_backend_pid()", Integer.class);
      String database = single(s, "SELECT current_database()", String.class);
      return new Holder(pid, xid, started, database);
    }
  }

  private static HorizonLag untilHeldBy(HorizonMonitor monitor, Holder h) throws InterruptedException {
    return untilHeldBy(monitor, l -> l.horizon() == h.xid());
  }

  /**
   * Checks until {@code ours} holds: other sessions' older transactions end by themselves. Waits
   * on other sessions, not on time the clock could stand for.
   */
  private static HorizonLag untilHeldBy(HorizonMonitor monitor, Predicate<HorizonLag> ours)
      throws InterruptedException {
    long deadline = System.nanoTime() + OLDER_TRANSACTIONS_END.toNanos();
    while (true) {
      HorizonMonitor.Status s = monitor.check();
      assertThat(s.failure()).isNull();
      if (ours.test(s.lag())) {
        return s.lag();
      }
      assertThat(System.nanoTime())
          .as("an older transaction still holds the horizon after %s: %s", OLDER_TRANSACTIONS_END, s.lag().describe())
          .isLessThan(deadline);
      Thread.sleep(100);
    }
  }

  /** The shared database, connecting as {@code role} (the server's {@code role} setting). */
  private static DataSource as(String role) {
    PGSimpleDataSource ds = sharedServer();
    ds.setOptions("-c role=" + role);
    return ds;
  }

  /** Another database of the shared database's cluster. */
  private static DataSource inDatabase(String database) {
    PGSimpleDataSource ds = sharedServer();
    ds.setDatabaseName(database);
    return ds;
  }

  private static PGSimpleDataSource sharedServer() {
    TestDatabase db = TestDatabase.shared();
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setUrl(db.jdbcUrl());
    if (db.user() != null) {
      ds.setUser(db.user());
    }
    if (db.password() != null) {
      ds.setPassword(db.password());
    }
    return ds;
  }

  /**
   * A database whose server allows prepared transactions: the shared one if its {@code
   * max_prepared_transactions} is above 0 (PostgreSQL's default is 0, and changing it takes a
   * restart), else a private embedded server started with it.
   */
  private static synchronized DataSource twoPhaseDatabase() throws SQLException {
    DataSource shared = TestDatabase.shared().dataSource();
    try (Connection c = shared.getConnection();
        Statement s = c.createStatement()) {
      if (!single(s, "SHOW max_prepared_transactions", String.class).equals("0")) {
        return shared;
      }
    }
    if (twoPhaseServer == null) {
      try {
        twoPhaseServer =
            EmbeddedPostgres.builder().setServerConfig("max_prepared_transactions", "4").start();
      } catch (IOException | RuntimeException e) {
        Servers.require(
            "a PostgreSQL server that allows prepared transactions",
            false,
            "set max_prepared_transactions above 0 on the shared server; the embedded one failed: " + e);
      }
    }
    return twoPhaseServer.getPostgresDatabase();
  }

  private double gauge(String name) {
    return registry.get(name).gauge().value();
  }

  private static <T> T single(Statement s, String sql, Class<T> type) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      assertThat(rs.next()).as(sql).isTrue();
      return rs.getObject(1, type);
    }
  }

  private static void execute(DataSource db, String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
