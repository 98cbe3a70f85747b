package dev.courier.relay;

import java.time.Instant;
import java.util.Objects;

/**
 * The transaction that holds PostgreSQL's transaction horizon back: the running transaction with
 * the oldest transaction id anywhere in the cluster, in any of its databases. Either a backend
 * (a session, possibly idle in its transaction) or a prepared (two-phase) transaction, which
 * belongs to no session and stays until someone commits or rolls it back.
 *
 * <p>Never holds query text: it may contain personal data or secrets. What a monitoring role may
 * see of another user's session depends on its privileges; see {@link HorizonMonitor}.
 */
public sealed interface HorizonHolder {

  /** The database the transaction runs in, or {@code null} if it is not visible. */
  String database();

  /**
   * When the transaction started (a backend's {@code xact_start}) or was prepared; {@code null}
   * when the monitoring role may not see it.
   */
  Instant since();

  /** One phrase naming the holder for logs and health reports; never holds query text. */
  String describe();

  /**
   * A session whose open transaction holds the horizon back.
   *
   * @param pid the backend's process id ({@code pg_terminate_backend(pid)} ends it)
   * @param applicationName its {@code application_name}, possibly empty
   * @param database its database, or {@code null} if not visible
   * @param user its role, or {@code null} if not visible
   * @param state such as {@code idle in transaction} or {@code active}; {@code null} when the
   *     monitoring role may not see other users' sessions in full (it lacks {@code
   *     pg_read_all_stats})
   * @param backendType such as {@code client backend} or {@code autovacuum worker}; {@code null}
   *     when not visible
   * @param transactionStart its {@code xact_start}; {@code null} when not visible
   */
  record Backend(
      int pid,
      String applicationName,
      String database,
      String user,
      String state,
      String backendType,
      Instant transactionStart)
      implements HorizonHolder {

    public Backend {
      applicationName = applicationName == null ? "" : applicationName;
    }

    @Override
    public Instant since() {
      return transactionStart;
    }

    /**
     * {@code backend pid 4711 (application 'billing', database shop, user app, idle in
     * transaction)}.
     */
    @Override
    public String describe() {
      StringBuilder sb = new StringBuilder("backend pid ").append(pid).append(" (application '");
      sb.append(printable(applicationName)).append('\'');
      if (database != null) {
        sb.append(", database ").append(printable(database));
      }
      if (user != null) {
        sb.append(", user ").append(printable(user));
      }
      if (backendType != null && !backendType.equals("client backend")) {
        sb.append(", ").append(backendType);
      }
      sb.append(", ").append(state == null ? "state not visible to this role" : state);
      return sb.append(')').toString();
    }
  }

  /**
   * A prepared (two-phase) transaction: {@code PREPARE TRANSACTION} ran, and neither {@code COMMIT
   * PREPARED} nor {@code ROLLBACK PREPARED} has yet. It survives restarts of the server.
   *
   * @param gid its global id, as given to {@code PREPARE TRANSACTION}
   * @param preparedAt when it was prepared
   * @param owner the role that prepared it
   * @param database the database it was prepared in; {@code COMMIT PREPARED} must run there
   */
  record PreparedTransaction(String gid, Instant preparedAt, String owner, String database)
      implements HorizonHolder {

    public PreparedTransaction {
      Objects.requireNonNull(gid, "gid");
    }

    @Override
    public Instant since() {
      return preparedAt;
    }

    /** {@code prepared transaction 'order-17' (database shop, owner app, prepared at ...)}. */
    @Override
    public String describe() {
      return "prepared transaction '"
          + printable(gid)
          + "' (database "
          + printable(String.valueOf(database))
          + ", owner "
          + printable(String.valueOf(owner))
          + (preparedAt == null ? "" : ", prepared at " + preparedAt)
          + ")";
    }
  }

  /**
   * Names chosen by applications, with control characters replaced so that a log line stays one
   * line. PostgreSQL bounds their length (63 bytes for names, 199 for a gid).
   */
  private static String printable(String s) {
    return s.replaceAll("\\p{Cntrl}", "?");
  }
}
