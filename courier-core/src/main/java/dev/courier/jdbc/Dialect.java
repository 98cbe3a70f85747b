package dev.courier.jdbc;

import dev.courier.ConfigurationException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;

/**
 * The SQL Courier runs, for one database. A dialect is data: a handful of statements, built from
 * validated table names. Detect one with {@link #detect(Connection)}.
 *
 * <p>Every statement binds values as parameters; only table names (checked by {@link
 * CourierTables}) are interpolated.
 */
public abstract class Dialect {

  /** The PostgreSQL dialect (9.5 or newer: {@code SKIP LOCKED}, {@code ON CONFLICT}). */
  public static final Dialect POSTGRESQL = new PostgresDialect();

  /** Short lowercase name, also the folder of this dialect's schema files. */
  public abstract String name();

  /** Detects the dialect from the connection's database product name. */
  public static Dialect detect(Connection connection) {
    try {
      String product = connection.getMetaData().getDatabaseProductName();
      return forProduct(product);
    } catch (SQLException e) {
      throw new ConfigurationException("database", "could not read the database product name: " + e.getMessage());
    }
  }

  /** The dialect for a JDBC database product name. */
  public static Dialect forProduct(String product) {
    String p = product == null ? "" : product.toLowerCase(Locale.ROOT);
    if (p.contains("postgres")) {
      return POSTGRESQL;
    }
    throw new ConfigurationException(
        "database",
        "'" + product + "' is not supported yet; Courier supports PostgreSQL (MySQL/MariaDB is planned)");
  }

  /** Inserts one outbox row; parameters in the order of {@link OutboxColumns}. */
  public abstract String insertOutbox(CourierTables t);

  /**
   * Claims up to N claimable rows in seq order, from a seq on, and leases them to one relay. A
   * pending row below that seq is not claimed and holds back later rows of its key. Parameters:
   * from-seq, now, now, from-seq, limit, lease-until, relay id. Returns the claimed rows' columns
   * (see {@link OutboxColumns}).
   */
  public abstract String claim(CourierTables t);

  /**
   * Selects up to N claimable rows in seq order, from a seq on, under the same rules as {@link
   * #claim}, and locks them without writing them: the caller's transaction holds them until it
   * ends. Parameters: from-seq, now, now, from-seq, limit. Returns the rows' columns, with {@code
   * attempts} already counting the attempt about to be made.
   */
  public abstract String claimLocked(CourierTables t);

  /**
   * A statement run in each claim's transaction before the claim, scoped to that transaction, or
   * null if none is needed: it keeps the claim on the plan that reads the pending rows in {@code
   * seq} order and stops after the batch, whatever the table's statistics say.
   */
  public String claimPlan() {
    return null;
  }

  /**
   * A statement that ends the session of a transaction left idle longer than {@code millis}
   * (which releases its locks), scoped to the current transaction, or null if the database has
   * none. A {@link #claimLocked} transaction runs it, so that a relay that hangs while holding rows
   * gives them up, as an expired lease would.
   */
  public String idleTransactionTimeout(long millis) {
    return null;
  }

  /**
   * Marks rows published and counts the attempt, for rows held by the caller's transaction
   * ({@link #claimLocked}). Parameters: published-at, array of seq.
   */
  public abstract String markPublishedLocked(CourierTables t);

  /**
   * Schedules a retry of a row held by the caller's transaction. Parameters: available-at,
   * attempts made, last error, seq.
   */
  public abstract String markRetryLocked(CourierTables t);

  /**
   * Parks a row held by the caller's transaction as dead. Parameters: dead-at, attempts made, last
   * error, seq.
   */
  public abstract String markDeadLocked(CourierTables t);

  /**
   * Marks rows published. Not fenced by the claim: the broker confirmed them, whichever relay holds
   * them now. Parameters: published-at, array of seq.
   */
  public abstract String markPublished(CourierTables t);

  /**
   * Deletes rows the broker confirmed, instead of marking them published: for a relay that keeps
   * no history in the outbox. Parameters: array of seq.
   */
  public abstract String deletePublished(CourierTables t);

  /**
   * Schedules a retry, if this relay still holds the row (a relay whose lease expired must not
   * overwrite the new holder's state). Parameters: available-at, last error, seq, relay id.
   */
  public abstract String markRetry(CourierTables t);

  /** Parks a row as dead, if this relay still holds it. Parameters: dead-at, last error, seq, relay id. */
  public abstract String markDead(CourierTables t);

  /**
   * Gives back claimed rows that were not attempted, if this relay still holds them. Parameters:
   * available-at, array of seq, relay id.
   */
  public abstract String release(CourierTables t);

  /**
   * A statement that makes the current transaction's commit return without waiting for its WAL
   * to be flushed, or null if the database has none. The relay runs it before writes it can
   * afford to lose in a database crash (a claim, a mark after the broker's confirmation): losing
   * one costs a duplicate publish, never an event.
   */
  public String relaxedCommit() {
    return null;
  }

  /** Records (consumer, event) in the ledger unless present. Parameters: consumer, event id, at. */
  public abstract String insertProcessed(CourierTables t);

  /** Inserts or updates a dead letter; parameters in the order of {@link DeadLetterColumns}. */
  public abstract String upsertDeadLetter(CourierTables t);

  /**
   * Inserts or updates a dead letter parked behind an earlier dead letter of its key (status
   * {@code PARKED}); parameters as {@link #upsertDeadLetter}.
   */
  public abstract String upsertParkedDeadLetter(CourierTables t);

  /** The distinct destinations of the outbox's pending rows; a relay checks them at start. */
  public String pendingDestinations(CourierTables t) {
    return "SELECT DISTINCT destination FROM " + t.outbox() + " WHERE status = 'PENDING'";
  }

  /** SQL type name for an array of seq values, for {@link Connection#createArrayOf}. */
  public String bigintArrayType() {
    return "bigint";
  }

  /** Column order shared by the insert and claim statements. */
  public enum OutboxColumns {
    EVENT_ID,
    EVENT_TYPE,
    DESTINATION,
    EVENT_KEY,
    PAYLOAD,
    HEADERS,
    CORRELATION_ID,
    CAUSATION_ID,
    CREATED_AT,
    AVAILABLE_AT
  }

  /** Parameter order of {@link #upsertDeadLetter}. */
  public enum DeadLetterColumns {
    CONSUMER,
    DEDUPE_KEY,
    EVENT_ID,
    EVENT_TYPE,
    EVENT_KEY,
    DESTINATION,
    SOURCE,
    PAYLOAD,
    HEADERS,
    CORRELATION_ID,
    CAUSATION_ID,
    REASON,
    ERROR_CLASS,
    ERROR_MESSAGE,
    STACK_TRACE,
    ATTEMPTS,
    FIRST_FAILED_AT,
    LAST_FAILED_AT,
    FINGERPRINT,
    EVENT_CREATED_AT,
    PAYLOAD_SIZE,
    PAYLOAD_SHA256
  }

  @Override
  public String toString() {
    return name();
  }
}
