package dev.courier.internal;

import dev.courier.CourierException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.StatementFailedException;
import dev.courier.TransactionConflictException;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTimeoutException;
import java.sql.SQLTransientConnectionException;
import java.util.UUID;

/**
 * Turns a driver's {@link SQLException} into the Courier exception that says what failed: {@link
 * DatabaseUnavailableException}, {@link TransactionConflictException} or {@link
 * StatementFailedException}. Public only so that core packages and the server can share it.
 *
 * <p>The message is what Courier was doing, the first line of the driver's message and the
 * SQLState. Only the first line: PostgreSQL puts row values in the lines after it ({@code Detail:
 * Failing row contains (...)}, {@code Key (...)=(...)}), and those may be payloads. For the same
 * reason a failed JDBC batch is described by the server's error for the entry that failed, not by
 * the driver's text for the batch, which quotes the statement with its bound values. The driver's
 * exception stays the cause, whole.
 */
public final class DatabaseFailures {
  private DatabaseFailures() {}

  /**
   * The Courier exception for {@code e}.
   *
   * @param what what was being done, as "could not ..."; it starts the message
   */
  public static CourierException of(String what, SQLException e) {
    return of(what, null, null, e);
  }

  /**
   * The Courier exception for {@code e}, about one event.
   *
   * @param what what was being done, as "could not ..."; it starts the message
   * @param eventId the event the failure concerns, or {@code null}
   * @param destination its destination, or {@code null}
   */
  public static CourierException of(String what, UUID eventId, String destination, SQLException e) {
    String message = what + ": " + reason(e) + (state(e) == null ? "" : " (SQLState " + state(e) + ")");
    if (isUnavailable(e)) {
      return new DatabaseUnavailableException(message, eventId, destination, e);
    }
    if (isConflict(e)) {
      return new TransactionConflictException(message, eventId, destination, e);
    }
    return new StatementFailedException(message, eventId, destination, e);
  }

  /**
   * Whether {@code e} says the database could not be reached or stopped answering; see {@link
   * DatabaseUnavailableException} for the rules.
   */
  public static boolean isUnavailable(SQLException e) {
    if (e instanceof SQLTransientConnectionException
        || e instanceof SQLNonTransientConnectionException
        || e instanceof SQLRecoverableException
        || e instanceof SQLTimeoutException) {
      return true;
    }
    String state = state(e);
    if (state == null) {
      return false;
    }
    return state.startsWith("08") // connection exception
        || state.startsWith("53") // insufficient resources: too many connections, disk full, out of memory
        || state.equals("57P01") // admin_shutdown: the server is stopping, or an admin ended the session
        || state.equals("57P02") // crash_shutdown: another server process crashed
        || state.equals("57P03") // cannot_connect_now: the server is starting or in recovery
        || state.equals("57P05") // idle_session_timeout: the server closed an idle session
        || state.equals("57014"); // query_canceled: statement_timeout, or cancelled by an operator
  }

  /**
   * Whether {@code e} says the transaction lost to a concurrent one; see {@link
   * TransactionConflictException} for the rules.
   */
  public static boolean isConflict(SQLException e) {
    String state = state(e);
    return "40001".equals(state) // serialization_failure
        || "40P01".equals(state) // deadlock_detected
        || "55P03".equals(state); // lock_not_available: lock_timeout, or NOWAIT
  }

  /** The SQLState of {@code e}, or of the first exception chained to it that has one. */
  static String state(SQLException e) {
    int depth = 0;
    for (SQLException x = e; x != null && depth < 10; x = x.getNextException(), depth++) {
      if (x.getSQLState() != null) {
        return x.getSQLState();
      }
    }
    return null;
  }

  /** The first line of the driver's words for {@code e}; see the class comment. */
  static String reason(SQLException e) {
    SQLException shown = e;
    if (e instanceof BatchUpdateException) {
      shown = e.getNextException() != null ? e.getNextException()
          : e.getCause() instanceof SQLException cause ? cause : null;
      if (shown == null || shown instanceof BatchUpdateException) {
        return "a statement of the batch failed";
      }
    }
    String message = shown.getMessage();
    String first = message == null ? "" : message.lines().findFirst().orElse("").strip();
    return first.isEmpty() ? shown.getClass().getSimpleName() : first;
  }
}
