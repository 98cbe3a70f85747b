package dev.courier.server.admin;

import dev.courier.ConfigurationException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.admin.InvalidRequestException;
import dev.courier.admin.NotFoundException;
import dev.courier.internal.DatabaseFailures;
import java.sql.SQLException;

/**
 * How an admin operation ended, as the CLI's exit code and the HTTP status both express it.
 */
public enum Outcome {
  /** Done. Exit 0, HTTP 200. */
  OK(0, 200),
  /** Nothing matched, or a named row does not exist. Exit 1, HTTP 404. */
  NOT_FOUND(1, 404),
  /** Bad input: unknown option or filter, bad time range, missing reason. Exit 2, HTTP 400. */
  BAD_INPUT(2, 400),
  /** The database cannot be reached or is not answering. Exit 3, HTTP 503. */
  UNREACHABLE(3, 503),
  /** Anything else went wrong (a failing query, missing tables). Exit 1, HTTP 500. */
  FAILED(1, 500);

  private final int exitCode;
  private final int httpStatus;

  Outcome(int exitCode, int httpStatus) {
    this.exitCode = exitCode;
    this.httpStatus = httpStatus;
  }

  public int exitCode() {
    return exitCode;
  }

  public int httpStatus() {
    return httpStatus;
  }

  /** The outcome a failure stands for. */
  public static Outcome of(Throwable t) {
    if (t instanceof InvalidRequestException || t instanceof ConfigurationException) {
      return BAD_INPUT;
    }
    if (t instanceof NotFoundException) {
      return NOT_FOUND;
    }
    return unreachable(t) ? UNREACHABLE : FAILED;
  }

  /**
   * Whether the failure is the database being unreachable, a {@link DatabaseUnavailableException}
   * (no connection could be had, the connection broke, the server is shutting down or out of
   * resources), as opposed to a statement that failed. A driver's exception that reached here
   * without Courier's type is classified by the same rules.
   */
  public static boolean unreachable(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof DatabaseUnavailableException
          || c instanceof SQLException s && DatabaseFailures.isUnavailable(s)
          || c instanceof java.net.ConnectException) {
        return true;
      }
    }
    return false;
  }
}
