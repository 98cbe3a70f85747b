package dev.courier;

import java.sql.SQLException;
import java.util.UUID;

/**
 * The database could not be reached or stopped answering: no connection could be had (refused,
 * timed out, the pool exhausted), an open connection broke, the server is shutting down, starting
 * up or out of resources (too many connections, disk full, out of memory), or a statement was
 * cancelled because it ran past its timeout.
 *
 * <p>Thrown by every Courier operation that uses the database, in place of the driver's {@link
 * SQLException}, which is the cause. Nothing is wrong with the event or the statement: <b>retrying
 * helps</b> once the database is back, so back off and try again. Courier's own loops (relays,
 * consumers) do so without using up an event's attempts. A commit that fails this way has an
 * unknown outcome: it may have happened, so what is retried must be safe to repeat (an outbox event
 * id is, a consumer's ledger is).
 *
 * <p>Classified from the {@linkplain #sqlState() SQLState}: class {@code 08} (connection
 * exception), class {@code 53} (insufficient resources), {@code 57P01}, {@code 57P02}, {@code
 * 57P03} and {@code 57P05} (the server ended the session or is not accepting it yet) and {@code
 * 57014} (cancelled, for example by {@code statement_timeout}); and from the JDBC types that say
 * the same without a state ({@link java.sql.SQLTransientConnectionException}, as a pool's checkout
 * timeout, {@link java.sql.SQLNonTransientConnectionException}, {@link
 * java.sql.SQLRecoverableException}, {@link java.sql.SQLTimeoutException}).
 */
public class DatabaseUnavailableException extends RetriableCourierException {
  private static final long serialVersionUID = 1L;

  public DatabaseUnavailableException(String message, SQLException cause) {
    super(message, cause);
  }

  public DatabaseUnavailableException(
      String message, UUID eventId, String destination, SQLException cause) {
    super(message, eventId, destination, cause);
  }

  /** The SQLState the driver reported, or {@code null} when it gave none. */
  public String sqlState() {
    return getCause() instanceof SQLException s ? s.getSQLState() : null;
  }
}
