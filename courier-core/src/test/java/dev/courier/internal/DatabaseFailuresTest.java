package dev.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.CourierException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.FatalCourierException;
import dev.courier.RetriableCourierException;
import dev.courier.StatementFailedException;
import dev.courier.TransactionConflictException;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTimeoutException;
import java.sql.SQLTransientConnectionException;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** How a driver's SQLException becomes one of Courier's database exceptions, by SQLState alone. */
class DatabaseFailuresTest {

  @ParameterizedTest
  @ValueSource(strings = {"08000", "08001", "08003", "08006", "08P01", "53000", "53100", "53200", "53300",
      "57P01", "57P02", "57P03", "57P05", "57014"})
  void connectionShutdownResourceAndTimeoutStates_areTheDatabaseBeingUnavailable(String state) {
    CourierException e = DatabaseFailures.of("could not read", new SQLException("boom", state));

    assertThat(e).isInstanceOf(DatabaseUnavailableException.class).isInstanceOf(RetriableCourierException.class);
    assertThat(((DatabaseUnavailableException) e).sqlState()).isEqualTo(state);
  }

  @Test
  void connectionExceptionTypesWithoutAState_areTheDatabaseBeingUnavailable() {
    assertThat(DatabaseFailures.of("x", new SQLTransientConnectionException("pool - request timed out after 1000ms")))
        .as("a pool's checkout timeout")
        .isInstanceOf(DatabaseUnavailableException.class);
    assertThat(DatabaseFailures.of("x", new SQLRecoverableException("gone")))
        .isInstanceOf(DatabaseUnavailableException.class);
    assertThat(DatabaseFailures.of("x", new SQLTimeoutException("slow")))
        .isInstanceOf(DatabaseUnavailableException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"40001", "40P01", "55P03"})
  void serializationDeadlockAndLockTimeout_areTransactionConflicts(String state) {
    CourierException e = DatabaseFailures.of("could not claim", new SQLException("boom", state));

    assertThat(e).isInstanceOf(TransactionConflictException.class).isInstanceOf(RetriableCourierException.class);
    assertThat(((TransactionConflictException) e).sqlState()).isEqualTo(state);
  }

  @ParameterizedTest
  @ValueSource(strings = {"42601", "42P01", "42703", "42501", "23505", "23502", "22001", "25P02", "40002",
      "28P01", "3D000", "57P04", "XX000"})
  void everyOtherState_isAFailedStatement_neitherRetriableNorFatal(String state) {
    CourierException e = DatabaseFailures.of("could not read", new SQLException("boom", state));

    assertThat(e)
        .isInstanceOf(StatementFailedException.class)
        .isNotInstanceOf(RetriableCourierException.class)
        .isNotInstanceOf(FatalCourierException.class);
    assertThat(((StatementFailedException) e).sqlState()).isEqualTo(state);
  }

  @Test
  void aDriverErrorWithoutAState_isAFailedStatement() {
    CourierException e = DatabaseFailures.of("could not read", new SQLException("pool has been closed"));

    assertThat(e).isInstanceOf(StatementFailedException.class);
    assertThat(e.getMessage()).isEqualTo("could not read: pool has been closed");
  }

  @Test
  void theMessage_saysWhatWasDone_theDriversFirstLine_andTheState_butNoDetail() {
    SQLException pg =
        new SQLException(
            "ERROR: new row for relation \"courier_outbox\" violates check constraint \"c\"\n"
                + "  Detail: Failing row contains (1, card-number-4111, ...).\n"
                + "  Where: SQL function \"f\"",
            "23514");

    CourierException e = DatabaseFailures.of("could not append 1 event(s) to courier_outbox", pg);

    assertThat(e.getMessage())
        .isEqualTo(
            "could not append 1 event(s) to courier_outbox: ERROR: new row for relation \"courier_outbox\""
                + " violates check constraint \"c\" (SQLState 23514)")
        .doesNotContain("card-number");
    assertThat(e.getCause()).as("the driver's exception stays the cause").isSameAs(pg);
  }

  @Test
  void aFailedBatch_isDescribedByTheServersError_notByTheStatementWithItsValues() {
    SQLException server = new SQLException("ERROR: value too long for type character varying(255)", "22001");
    BatchUpdateException batch =
        new BatchUpdateException(
            "Batch entry 0 INSERT INTO courier_outbox VALUES ('secret-header') was aborted: ERROR: value too"
                + " long. Call getNextException to see other errors in the batch.",
            "22001",
            new int[0]);
    batch.setNextException(server);

    CourierException e = DatabaseFailures.of("could not append", batch);

    assertThat(e).isInstanceOf(StatementFailedException.class);
    assertThat(e.getMessage())
        .isEqualTo("could not append: ERROR: value too long for type character varying(255) (SQLState 22001)")
        .doesNotContain("secret-header");
  }

  @Test
  void aBatchWhoseStateIsOnlyOnTheChainedError_isClassifiedByIt() {
    BatchUpdateException batch = new BatchUpdateException("Batch entry 0 ... was aborted", null, new int[0]);
    batch.setNextException(new SQLException("An I/O error occurred while sending to the backend.", "08006"));

    assertThat(DatabaseFailures.of("could not append", batch)).isInstanceOf(DatabaseUnavailableException.class);
  }

  @Test
  void aBatchWithNothingChained_saysSoWithoutQuotingTheStatement() {
    BatchUpdateException batch =
        new BatchUpdateException("Batch entry 0 INSERT ... ('secret') was aborted", "23514", new int[0]);

    assertThat(DatabaseFailures.of("could not append", batch).getMessage())
        .isEqualTo("could not append: a statement of the batch failed (SQLState 23514)");
  }

  @Test
  void anEventsFailure_carriesItsIdAndDestination() {
    UUID id = UUID.randomUUID();

    CourierException e =
        DatabaseFailures.of("could not record the event", id, "orders", new SQLException("refused", "08001"));

    assertThat(e).isInstanceOf(DatabaseUnavailableException.class);
    assertThat(e.eventId()).isEqualTo(id);
    assertThat(e.destination()).isEqualTo("orders");
    assertThat(e.getMessage())
        .isEqualTo("could not record the event: refused (SQLState 08001) [event_id=" + id + ", destination=orders]");
  }
}
