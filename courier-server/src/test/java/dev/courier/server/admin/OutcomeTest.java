package dev.courier.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.ConfigurationException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.StatementFailedException;
import dev.courier.TransactionConflictException;
import dev.courier.admin.NotFoundException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The exit code and HTTP status a failure stands for, read from Courier's exception types. */
class OutcomeTest {

  @Test
  void anUnavailableDatabase_isUnreachable_exit3_http503() {
    Outcome o = Outcome.of(new DatabaseUnavailableException("could not read", new SQLException("refused", "08001")));

    assertThat(o).isEqualTo(Outcome.UNREACHABLE);
    assertThat(o.exitCode()).isEqualTo(3);
    assertThat(o.httpStatus()).isEqualTo(503);
  }

  @Test
  void aFailedStatementOrAConflict_isAFailure() {
    assertThat(Outcome.of(new StatementFailedException("could not read", new SQLException("no table", "42P01"))))
        .isEqualTo(Outcome.FAILED);
    assertThat(Outcome.of(new TransactionConflictException("could not claim", new SQLException("deadlock", "40P01"))))
        .isEqualTo(Outcome.FAILED);
  }

  @Test
  void aDriversExceptionThatBypassedCouriersTypes_isClassifiedByTheSameRules() {
    assertThat(Outcome.of(new RuntimeException(new SQLTransientConnectionException("pool timed out"))))
        .isEqualTo(Outcome.UNREACHABLE);
    assertThat(Outcome.of(new RuntimeException(new SQLException("too many clients", "53300"))))
        .isEqualTo(Outcome.UNREACHABLE);
    assertThat(Outcome.of(new RuntimeException(new SQLException("syntax", "42601")))).isEqualTo(Outcome.FAILED);
  }

  @Test
  void badInputAndUnknownIds_keepTheirOwnOutcomes() {
    assertThat(Outcome.of(new ConfigurationException("courier.db.url", "is not set"))).isEqualTo(Outcome.BAD_INPUT);
    assertThat(Outcome.of(new NotFoundException("dead letter", List.of(7L)))).isEqualTo(Outcome.NOT_FOUND);
  }
}
