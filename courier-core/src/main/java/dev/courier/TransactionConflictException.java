package dev.courier;

import java.sql.SQLException;
import java.util.UUID;

/**
 * The transaction lost to a concurrent one and was rolled back: a serialization failure ({@code
 * 40001}, under {@code REPEATABLE READ} or {@code SERIALIZABLE}), a deadlock ({@code 40P01}), or a
 * lock that could not be had within {@code lock_timeout} or with {@code NOWAIT} ({@code 55P03}).
 *
 * <p>Thrown by Courier operations that use the database, in place of the driver's {@link
 * SQLException}, which is the cause. Nothing is wrong with the event, the statement or the
 * database: <b>retrying helps</b>, and the whole transaction must be run again from its start, not
 * only the statement that failed (PostgreSQL accepts nothing more in the aborted transaction). When
 * the outbox's append throws it, the transaction to run again is the caller's.
 */
public class TransactionConflictException extends RetriableCourierException {
  private static final long serialVersionUID = 1L;

  public TransactionConflictException(String message, SQLException cause) {
    super(message, cause);
  }

  public TransactionConflictException(
      String message, UUID eventId, String destination, SQLException cause) {
    super(message, eventId, destination, cause);
  }

  /** The SQLState the driver reported, or {@code null} when it gave none. */
  public String sqlState() {
    return getCause() instanceof SQLException s ? s.getSQLState() : null;
  }
}
