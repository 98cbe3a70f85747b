package dev.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.LedgerAdmin;
import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Real PostgreSQL failures and the exception each becomes: a refused or killed connection and a
 * statement timeout are the database being unavailable, a serialization failure and a lock timeout
 * are transaction conflicts, and a missing table, a syntax error or a violated constraint are a
 * failed statement. None of the messages carries the row values PostgreSQL puts in its detail.
 */
class DatabaseExceptionsPostgresTest {
  private static final TestDatabase DB = TestDatabase.shared();
  private static PGSimpleDataSource migrated;
  private static PGSimpleDataSource empty;

  @BeforeAll
  static void schemas() throws SQLException {
    migrated = DB.freshSchema("db_failures");
    Schema.migrate(migrated, CourierTables.DEFAULT);
    exec(migrated, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)");
    exec(migrated, "INSERT INTO accounts VALUES (1, 100)");
    empty = DB.freshSchema("db_failures_empty");
  }

  @AfterAll
  static void drop() {
    DB.dropSchema(migrated);
    DB.dropSchema(empty);
  }

  // --- the database is unavailable ---------------------------------------------------------------

  @Test
  void aRefusedConnection_isTheDatabaseBeingUnavailable_andNamesTheEvent() {
    PGSimpleDataSource nowhere = new PGSimpleDataSource();
    nowhere.setUrl("jdbc:postgresql://127.0.0.1:1/test");
    nowhere.setConnectTimeout(1);
    UUID id = UUID.randomUUID();

    assertThatThrownBy(() -> new LedgerAdmin(nowhere, CourierTables.DEFAULT).processedBy(id))
        .isInstanceOf(DatabaseUnavailableException.class)
        .isInstanceOf(RetriableCourierException.class)
        .hasMessageStartingWith("could not read the ledger courier_processed_events: ")
        .hasMessageContaining("(SQLState 08001)")
        .hasMessageContaining("[event_id=" + id + "]");
  }

  @Test
  void anAppendOnAConnectionTheServerKilled_isTheDatabaseBeingUnavailable() throws SQLException {
    Outbox outbox = Outbox.builder().build();
    try (Connection c = migrated.getConnection()) {
      c.setAutoCommit(false);
      terminate(backendPid(c));

      assertThatThrownBy(() -> outbox.append(c, Event.builder("OrderPlaced").destination("orders")))
          .isInstanceOf(DatabaseUnavailableException.class)
          .hasMessageStartingWith("could not append 1 event(s) to courier_outbox: ")
          .hasMessageContaining("destination=orders")
          .satisfies(e -> assertThat(((DatabaseUnavailableException) e).sqlState()).matches("57P01|08.*"));
    }
  }

  @Test
  void aStatementCancelledByItsTimeout_isTheDatabaseBeingUnavailable() throws SQLException {
    try (Connection c = migrated.getConnection(); Statement s = c.createStatement()) {
      s.execute("SET statement_timeout = '50ms'");
      SQLException timeout = failure(() -> s.execute("SELECT pg_sleep(5)"));

      assertThat(DatabaseFailures.of("could not wait", timeout))
          .isInstanceOf(DatabaseUnavailableException.class)
          .hasMessageContaining("(SQLState 57014)");
    }
  }

  // --- the transaction lost to a concurrent one --------------------------------------------------

  @Test
  void aSerializationFailure_isATransactionConflict() throws SQLException {
    try (Connection first = migrated.getConnection();
        Connection second = migrated.getConnection()) {
      first.setAutoCommit(false);
      first.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      try (Statement s = first.createStatement(); ResultSet rs = s.executeQuery("SELECT balance FROM accounts")) {
        rs.next(); // the snapshot is taken
      }
      exec(second, "UPDATE accounts SET balance = balance + 1 WHERE id = 1");

      SQLException lost = failure(() -> exec(first, "UPDATE accounts SET balance = balance - 1 WHERE id = 1"));
      first.rollback();

      assertThat(DatabaseFailures.of("could not debit", lost))
          .isInstanceOf(TransactionConflictException.class)
          .isInstanceOf(RetriableCourierException.class)
          .hasMessageContaining("(SQLState 40001)");
    }
  }

  @Test
  void aLockNotHadWithinTheLockTimeout_isATransactionConflict() throws SQLException {
    try (Connection holder = migrated.getConnection();
        Connection waiter = migrated.getConnection()) {
      holder.setAutoCommit(false);
      exec(holder, "SELECT * FROM accounts WHERE id = 1 FOR UPDATE");
      exec(waiter, "SET lock_timeout = '50ms'");

      SQLException timedOut = failure(() -> exec(waiter, "UPDATE accounts SET balance = 0 WHERE id = 1"));
      holder.rollback();

      assertThat(DatabaseFailures.of("could not update", timedOut))
          .isInstanceOf(TransactionConflictException.class)
          .hasMessageContaining("(SQLState 55P03)");
    }
  }

  // --- the statement failed -----------------------------------------------------------------------

  @Test
  void aSyntaxError_isAFailedStatement_withoutTheServersPosition() throws SQLException {
    try (Connection c = migrated.getConnection()) {
      SQLException syntax = failure(() -> exec(c, "SELEC 1"));

      CourierException e = DatabaseFailures.of("could not select", syntax);

      assertThat(e).isInstanceOf(StatementFailedException.class);
      assertThat(e.getMessage())
          .isEqualTo("could not select: ERROR: syntax error at or near \"SELEC\" (SQLState 42601)");
    }
  }

  @Test
  void readingTablesThatWereNeverMigrated_isAFailedStatement_neitherRetriableNorFatal() {
    assertThatThrownBy(() -> new LedgerAdmin(empty, CourierTables.DEFAULT).processedBy(UUID.randomUUID()))
        .isInstanceOf(StatementFailedException.class)
        .isNotInstanceOf(RetriableCourierException.class)
        .isNotInstanceOf(FatalCourierException.class)
        .hasMessageContaining("relation \"courier_processed_events\" does not exist")
        .satisfies(e -> assertThat(((StatementFailedException) e).sqlState()).isEqualTo("42P01"));
  }

  @Test
  void aViolatedConstraint_isAFailedStatement_whoseMessageLeavesOutTheRowValues() throws SQLException {
    exec(migrated, "ALTER TABLE courier_outbox ADD CONSTRAINT no_refunds CHECK (event_type <> 'RefundIssued')");
    Outbox outbox = Outbox.builder().build();
    try (Connection c = migrated.getConnection()) {
      c.setAutoCommit(false);
      Throwable thrown =
          catchThrowable(
              () ->
                  outbox.append(
                      c,
                      Event.builder("RefundIssued")
                          .destination("refunds")
                          .header("card", "4111-1111-1111-1111")
                          .payload("{\"iban\":\"DE89370400440532013000\"}")));
      c.rollback();

      assertThat(thrown)
          .isInstanceOf(StatementFailedException.class)
          .hasMessageContaining("violates check constraint \"no_refunds\"")
          .hasMessageContaining("(SQLState 23514)")
          .hasMessageNotContaining("4111-1111")
          .hasMessageNotContaining("Failing row");
      SQLException driver = (SQLException) thrown.getCause();
      assertThat(driver.getMessage() + driver.getNextException().getMessage())
          .as("the driver's own words do carry the row, which is why only their first line is kept")
          .contains("4111-1111-1111-1111");
    } finally {
      exec(migrated, "ALTER TABLE courier_outbox DROP CONSTRAINT no_refunds");
    }
  }

  // --- the consumer tells its own database failures from its handler's -------------------------

  @Test
  void aConsumerWhoseLedgerIsMissing_throwsTheFailedStatement_andAcknowledgesNothing() {
    AtomicInteger handled = new AtomicInteger();
    IdempotentProcessor consumer =
        IdempotentProcessor.builder("billing", empty, (event, c) -> handled.incrementAndGet()).build();
    Event e = Event.builder("OrderPlaced").destination("orders").build(Instant.now());

    assertThatThrownBy(() -> consumer.process(e, 1, "orders-0@1"))
        .isInstanceOf(StatementFailedException.class)
        .hasMessageStartingWith("could not record the event in the processed-events ledger: ")
        .hasMessageContaining("[event_id=" + e.id() + ", destination=orders]");
    assertThat(handled).hasValue(0);
  }

  @Test
  void aHandlerThatThrowsADatabaseException_isAHandlerFailure_retriedByThePolicy() {
    IdempotentProcessor consumer =
        IdempotentProcessor.builder(
                "shipping",
                migrated,
                (event, c) -> {
                  throw new DatabaseUnavailableException(
                      "the warehouse database is down", new SQLException("refused", "08001"));
                })
            .build();
    Event e = Event.builder("OrderPlaced").destination("orders").build(Instant.now());

    HandleOutcome outcome = consumer.process(e, 1, "orders-0@2");

    assertThat(outcome).isInstanceOf(HandleOutcome.RetryLater.class);
    assertThat(((HandleOutcome.RetryLater) outcome).error()).isInstanceOf(DatabaseUnavailableException.class);
  }

  // ---------------------------------------------------------------------------------------------

  @FunctionalInterface
  private interface SqlAction {
    void run() throws SQLException;
  }

  private static SQLException failure(SqlAction action) {
    try {
      action.run();
    } catch (SQLException e) {
      return e;
    }
    throw new AssertionError("the statement did not fail");
  }

  private static int backendPid(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static void terminate(int pid) throws SQLException {
    try (Connection c = migrated.getConnection(); Statement s = c.createStatement()) {
      // waits up to 5 s for the backend to be gone, so the next statement meets a closed session
      s.execute("SELECT pg_terminate_backend(" + pid + ", 5000)");
    }
  }

  private static void exec(PGSimpleDataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection()) {
      exec(c, sql);
    }
  }

  private static void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
