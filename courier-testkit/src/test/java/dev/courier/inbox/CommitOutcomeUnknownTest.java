package dev.courier.inbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.DatabaseUnavailableException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import dev.courier.testkit.chaos.FaultProxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A COMMIT whose answer never comes back: the server commits, the client's connection dies before it
 * hears so. Made deterministic with the fault proxy, which lets the COMMIT through and drops every reply
 * from that moment, then resets the connection. Neither side may lose an event or double an effect:
 *
 * <ul>
 *   <li>the consumer reports the database as unavailable (no acknowledgement, no attempt counted); the
 *       redelivery finds the ledger row the lost commit wrote, and the effect stays applied once;
 *   <li>the writer's application sees its commit fail; the business row and its event were committed
 *       together (never one without the other), and a retry that appends the same event id again is
 *       refused by the outbox's unique event id and rolls back with its business row, so a blind retry
 *       doubles nothing. What the application must do on an unknown outcome is in docs/GUARANTEES.md.
 * </ul>
 */
class CommitOutcomeUnknownTest {
  private static final TestDatabase DB = TestDatabase.shared();
  private PGSimpleDataSource direct;
  private FaultProxy proxy;
  private PGSimpleDataSource viaProxy;

  @BeforeEach
  void setUp() throws Exception {
    direct = DB.freshSchema("commit_unknown");
    Schema.migrate(direct, CourierTables.DEFAULT);
    exec("CREATE TABLE effects (event_id UUID NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    // no key of its own: only the event id can tell a retry from a new order
    exec("CREATE TABLE orders (order_no TEXT NOT NULL, amount INT NOT NULL)");
    proxy = FaultProxy.start(direct.getServerNames()[0], direct.getPortNumbers()[0]);
    viaProxy = new PGSimpleDataSource();
    viaProxy.setURL(direct.getURL());
    viaProxy.setServerNames(new String[] {proxy.host()});
    viaProxy.setPortNumbers(new int[] {proxy.port()});
    viaProxy.setUser(direct.getUser());
    viaProxy.setPassword(direct.getPassword());
    viaProxy.setCurrentSchema(direct.getCurrentSchema());
    viaProxy.setSocketTimeout(30);
    viaProxy.setConnectTimeout(10);
  }

  @AfterEach
  void tearDown() {
    if (proxy != null) {
      proxy.close();
    }
    DB.dropSchema(direct);
  }

  @Test
  void aConsumersCommitWhoseAnswerIsLost_isRedelivered_andTheLedgerKeepsTheEffectSingle() throws Exception {
    AtomicReference<CountDownLatch> armed = new AtomicReference<>();
    IdempotentProcessor consumer =
        IdempotentProcessor.builder(
                "billing",
                viaProxy,
                (event, c) -> {
                  try (PreparedStatement ps = c.prepareStatement("INSERT INTO effects (event_id) VALUES (?)")) {
                    ps.setObject(1, event.id());
                    ps.executeUpdate();
                  }
                  if (armed.get() == null) {
                    armed.set(proxy.dropRepliesOnceClientSends("COMMIT"));
                  }
                })
            .build();
    Event e = Event.builder("OrderPlaced").destination("orders").key("o-1").payload("{\"order\":1}").build(Instant.now());
    Thread cutter = cutOnceFired(armed);

    assertThatThrownBy(() -> consumer.process(e, 1, "orders-0@41"))
        .as("the outcome is unknown: the delivery must not be acknowledged")
        .isInstanceOf(DatabaseUnavailableException.class)
        .isInstanceOf(RetriableCourierException.class)
        .hasMessageContaining("outcome is unknown");
    cutter.join(30_000);

    assertThat(count("SELECT count(*) FROM effects")).as("the server did commit the effect").isEqualTo(1);
    assertThat(count("SELECT count(*) FROM courier_processed_events WHERE consumer = 'billing'"))
        .as("and its ledger row, in the same transaction")
        .isEqualTo(1);

    HandleOutcome redelivered = consumer.process(e, 1, "orders-0@41");

    assertThat(redelivered).isInstanceOf(HandleOutcome.Duplicate.class);
    assertThat(count("SELECT count(*) FROM effects")).as("applied once").isEqualTo(1);
  }

  @Test
  void aWritersCommitWhoseAnswerIsLost_leavesTheRowAndItsEventTogether_andARetryOfTheSameEventIsRefused()
      throws Exception {
    Outbox outbox = Outbox.builder().build();
    UUID eventId = UUID.randomUUID();
    AtomicReference<CountDownLatch> armed = new AtomicReference<>();
    Thread cutter = cutOnceFired(armed);

    SQLException unknown = null;
    try (Connection c = viaProxy.getConnection()) {
      c.setAutoCommit(false);
      placeOrder(c, outbox, eventId);
      armed.set(proxy.dropRepliesOnceClientSends("COMMIT"));
      try {
        c.commit();
      } catch (SQLException ex) {
        unknown = ex;
      }
    }
    cutter.join(30_000);

    assertThat((Throwable) unknown).as("the application is told the commit failed, though it did not").isNotNull();
    assertThat(unknown.getSQLState()).startsWith("08");
    assertThat(count("SELECT count(*) FROM orders")).isEqualTo(1);
    assertThat(count("SELECT count(*) FROM courier_outbox WHERE event_id = '" + eventId + "'"))
        .as("the event committed with the row that caused it")
        .isEqualTo(1);

    // A blind retry of the whole transaction with the same event id (chosen before the first attempt)
    // is refused by the outbox's unique event id, and rolls back its business row with it: neither
    // the order nor its event is doubled.
    proxy.heal();
    try (Connection c = viaProxy.getConnection()) {
      c.setAutoCommit(false);
      assertThatThrownBy(() -> placeOrder(c, outbox, eventId)).isInstanceOf(RuntimeException.class);
      c.rollback();
    }
    assertThat(count("SELECT count(*) FROM orders")).isEqualTo(1);
    assertThat(count("SELECT count(*) FROM courier_outbox WHERE event_id = '" + eventId + "'")).isEqualTo(1);
  }

  private static void placeOrder(Connection c, Outbox outbox, UUID eventId) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders (order_no, amount) VALUES ('A-1', 42)")) {
      ps.executeUpdate();
    }
    outbox.append(c, Event.builder("OrderPlaced").id(eventId).destination("orders").key("A-1").payload("{\"order\":\"A-1\"}"));
  }

  /** Once the trigger has fired, gives the server a moment to finish the commit, then resets the connections. */
  private Thread cutOnceFired(AtomicReference<CountDownLatch> armed) {
    return Thread.ofPlatform()
        .daemon()
        .start(
            () -> {
              try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (armed.get() == null && System.nanoTime() < deadline) {
                  Thread.sleep(5);
                }
                if (armed.get() != null && armed.get().await(30, TimeUnit.SECONDS)) {
                  Thread.sleep(300);
                  proxy.resetAll();
                  proxy.heal();
                }
              } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
              }
            });
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = direct.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.execute();
    }
  }

  private long count(String sql) throws SQLException {
    try (Connection c = direct.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
