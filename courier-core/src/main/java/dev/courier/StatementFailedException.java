package dev.courier;

import java.sql.SQLException;
import java.util.UUID;

/**
 * The database answered and refused a statement: a table or column is missing (the schema is not
 * migrated, or is older than this release), a privilege is missing, a constraint is violated, a
 * value does not fit its column, the statement is invalid. Every database failure that is neither
 * a {@link DatabaseUnavailableException} nor a {@link TransactionConflictException} is this one,
 * including a login the server refuses (class {@code 28}: a wrong password, no {@code pg_hba.conf}
 * entry) and a driver error without an SQLState.
 *
 * <p>Thrown by Courier operations that use the database, in place of the driver's {@link
 * SQLException}, which is the cause. The transaction it happened in is rolled back (or must be).
 * <b>Retrying the same statement fails the same way</b> until what it depends on changes: a
 * migration ({@code courier migrate}), a grant, the rows it conflicts with. That is usually the
 * deployment and not the event, which an operator can fix while callers back off, so this type is
 * neither {@link RetriableCourierException} nor {@link FatalCourierException}. A consumer whose
 * handler throws it (for example from an outbox append) retries the event by its retry policy and
 * dead-letters it after the last attempt, not at once; when a consumer's own bookkeeping
 * around the handler fails this way, the delivery is not acknowledged and comes again. The
 * {@linkplain #sqlState() SQLState} tells the cases apart, for example {@code 42P01} for a missing
 * table or {@code 42501} for a missing privilege.
 */
public class StatementFailedException extends CourierException {
  private static final long serialVersionUID = 1L;

  public StatementFailedException(String message, SQLException cause) {
    super(message, cause);
  }

  public StatementFailedException(
      String message, UUID eventId, String destination, SQLException cause) {
    super(message, eventId, destination, cause);
  }

  /** The SQLState the driver reported, or {@code null} when it gave none. */
  public String sqlState() {
    return getCause() instanceof SQLException s ? s.getSQLState() : null;
  }
}
