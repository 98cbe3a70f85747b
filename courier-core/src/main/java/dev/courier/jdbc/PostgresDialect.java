package dev.courier.jdbc;

final class PostgresDialect extends Dialect {

  @Override
  public String name() {
    return "postgresql";
  }

  @Override
  public String insertOutbox(CourierTables t) {
    return "INSERT INTO "
        + t.outbox()
        + " (event_id, event_type, destination, event_key, payload, headers, correlation_id,"
        + " causation_id, created_at, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  @Override
  public String claim(CourierTables t) {
    // SKIP LOCKED lets several relays claim disjoint rows without waiting on each other. A row
    // of a transaction that has not committed is invisible here and is claimed on a later pass:
    // nothing remembers a high-water mark, so a late commit is never skipped.
    // NOT EXISTS keeps per-key order: a row waits while an earlier row of its key is backing off
    // or leased (available_at in the future); rows of other keys are not held up.
    // The probe must stay a per-candidate lookup in the pending_key_c index (its text columns are
    // COLLATE "C", hence the same collation on the probe's equalities): left to itself the
    // planner turns it into an anti-join whose inner side (all pending rows not yet due) it
    // estimates at one row, and then reads it with a scan of the whole table, published rows
    // included, on every claim. OFFSET 0 keeps the subquery from being pulled up into a join, so
    // each of the LIMIT candidates costs one index descent on (destination, event_key, seq).
    // The scan may start at a hint (the relay's previous batch) instead of the index's start, past
    // the entries that published rows leave until vacuum. A pending row below the hint is not a
    // candidate and, like a leased one, holds back the later rows of its key.
    // Another relay's claim that has not committed yet is invisible to that probe: the row it
    // locked still shows its old available_at, SKIP LOCKED passes over it, and a later row of its
    // key would be claimed here ahead of it. So the candidates, once locked, are checked again: a
    // candidate is kept only if every earlier pending row of its key is a candidate too. The rows
    // dropped by that check stay pending and unleased; their locks end with this statement's
    // transaction.
    return "WITH candidates AS ("
        + candidates(t, "o.seq, o.destination, o.event_key")
        + "), picked AS (SELECT c.seq FROM candidates c WHERE "
        + everyEarlierRowIsACandidate(t)
        + ") UPDATE "
        + t.outbox()
        + " t SET available_at = ?, claimed_by = ?, attempts = t.attempts + 1"
        + " FROM picked WHERE t.seq = picked.seq"
        + " RETURNING t.seq, t.event_id, t.event_type, t.destination, t.event_key, t.payload,"
        + " t.headers, t.correlation_id, t.causation_id, t.created_at, t.attempts";
  }

  /**
   * The due pending rows from a seq on, in seq order, up to a limit, locked, without a row whose
   * key has an earlier pending row that is not due or is below that seq. Parameters: from-seq,
   * now, now, from-seq, limit.
   */
  private static String candidates(CourierTables t, String columns) {
    return "SELECT "
        + columns
        + " FROM "
        + t.outbox()
        + " o WHERE o.status = 'PENDING' AND o.seq >= ? AND o.available_at <= ?"
        + " AND NOT EXISTS (SELECT 1 FROM "
        + t.outbox()
        + " p WHERE p.status = 'PENDING' AND p.destination = o.destination COLLATE \"C\""
        + " AND p.event_key = o.event_key COLLATE \"C\" AND p.seq < o.seq"
        + " AND (p.available_at > ? OR p.seq < ?) OFFSET 0)"
        + " ORDER BY o.seq LIMIT ? FOR UPDATE SKIP LOCKED";
  }

  /** True for a candidate {@code c} whose key has no earlier pending row outside the candidates. */
  private static String everyEarlierRowIsACandidate(CourierTables t) {
    return "NOT EXISTS (SELECT 1 FROM "
        + t.outbox()
        + " p WHERE p.status = 'PENDING' AND p.destination = c.destination COLLATE \"C\""
        + " AND p.event_key = c.event_key COLLATE \"C\" AND p.seq < c.seq"
        + " AND p.seq NOT IN (SELECT seq FROM candidates) OFFSET 0)";
  }

  @Override
  public String claimLocked(CourierTables t) {
    // The same candidates and the same per-key rules as claim(), but the rows are only locked: the
    // caller's transaction stays open while the batch is published and ends with the mark, so no
    // lease is written. A row locked by another relay's open claim is skipped, and since it is not
    // a candidate here, the later rows of its key are dropped by the second check, as they are
    // for a leased row. The candidates that check drops stay locked until the caller's
    // transaction ends; they are claimed by a later pass.
    return "WITH candidates AS ("
        + candidates(
            t,
            "o.seq, o.event_id, o.event_type, o.destination, o.event_key, o.payload, o.headers,"
                + " o.correlation_id, o.causation_id, o.created_at, o.attempts + 1 AS attempts")
        + ") SELECT c.* FROM candidates c WHERE "
        + everyEarlierRowIsACandidate(t);
  }

  @Override
  public String claimPlan() {
    // The claim wants the first N pending rows in seq order: an ordered scan of the pending index
    // that stops after N. On a large outbox whose statistics are missing or stale (no ANALYZE since
    // it filled up, as without autovacuum) the planner may instead read every pending row with a
    // bitmap scan, run the per-key probe on each and sort them all: measured at 1.9 s per claim with
    // 543,000 rows pending, against 0.2 s for the ordered scan on the same table. A bitmap scan also
    // never marks the index entries of dead rows as dead, so later scans keep walking them. With
    // sorting priced out, the only plan left that yields seq order is the ordered index scan.
    //
    // JIT compilation is off for the claim as well: the planner's cost grows with the batch size,
    // and past jit_above_cost (100,000 by default; reached near 2,000 rows) PostgreSQL compiled the
    // claim's expressions on every call. Measured on a claim of 2,000 of 100,000 pending rows: 361 ms
    // of JIT (353 ms of it emitting code) on top of about 100 ms of work, which is why a larger
    // batch made the relay slower. The statement is too short-lived for compiled code to pay off.
    return "SET LOCAL enable_sort = off; SET LOCAL jit = off";
  }

  @Override
  public String idleTransactionTimeout(long millis) {
    // PostgreSQL 9.6+: the server terminates the session, and with it the transaction and its locks
    return "SET LOCAL idle_in_transaction_session_timeout = " + Math.max(1, millis);
  }

  @Override
  public String markPublishedLocked(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'PUBLISHED', published_at = ?, attempts = attempts + 1, claimed_by = NULL,"
        + " last_error = NULL WHERE seq = ANY(?) AND status = 'PENDING'";
  }

  @Override
  public String markRetryLocked(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET available_at = ?, attempts = ?, claimed_by = NULL, last_error = ?"
        + " WHERE seq = ? AND status = 'PENDING'";
  }

  @Override
  public String markDeadLocked(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'DEAD', dead_at = ?, attempts = ?, claimed_by = NULL, last_error = ?"
        + " WHERE seq = ? AND status = 'PENDING'";
  }

  @Override
  public String relaxedCommit() {
    // Transaction-scoped: the pooled connection's next user gets the server's setting back.
    return "SET LOCAL synchronous_commit = off";
  }

  @Override
  public String markPublished(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'PUBLISHED', published_at = ?, claimed_by = NULL, last_error = NULL"
        + " WHERE seq = ANY(?) AND status = 'PENDING'";
  }

  @Override
  public String deletePublished(CourierTables t) {
    return "DELETE FROM " + t.outbox() + " WHERE seq = ANY(?) AND status = 'PENDING'";
  }

  @Override
  public String markRetry(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET available_at = ?, claimed_by = NULL, last_error = ?"
        + " WHERE seq = ? AND status = 'PENDING' AND claimed_by = ?";
  }

  @Override
  public String markDead(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET status = 'DEAD', dead_at = ?, claimed_by = NULL, last_error = ?"
        + " WHERE seq = ? AND status = 'PENDING' AND claimed_by = ?";
  }

  @Override
  public String release(CourierTables t) {
    return "UPDATE "
        + t.outbox()
        + " SET available_at = ?, claimed_by = NULL, attempts = GREATEST(attempts - 1, 0)"
        + " WHERE seq = ANY(?) AND status = 'PENDING' AND claimed_by = ?";
  }

  @Override
  public String insertProcessed(CourierTables t) {
    return "INSERT INTO "
        + t.processedEvents()
        + " (consumer, event_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
  }

  @Override
  public String upsertDeadLetter(CourierTables t) {
    return upsertDeadLetter(t, "DEAD");
  }

  @Override
  public String upsertParkedDeadLetter(CourierTables t) {
    return upsertDeadLetter(t, "PARKED");
  }

  private static String upsertDeadLetter(CourierTables t, String status) {
    return "INSERT INTO "
        + t.deadLetters()
        + " AS d (consumer, dedupe_key, event_id, event_type, event_key, destination, source,"
        + " payload, headers, correlation_id, causation_id, reason, error_class, error_message,"
        + " stack_trace, attempts, first_failed_at, last_failed_at, fingerprint, event_created_at,"
        + " payload_size, payload_sha256,"
        + " status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '"
        + status
        + "')"
        + " ON CONFLICT (consumer, dedupe_key) DO UPDATE SET"
        + " attempts = d.attempts + EXCLUDED.attempts, last_failed_at = EXCLUDED.last_failed_at,"
        + " reason = EXCLUDED.reason, error_class = EXCLUDED.error_class,"
        + " error_message = EXCLUDED.error_message, stack_trace = EXCLUDED.stack_trace,"
        + " fingerprint = EXCLUDED.fingerprint,"
        // the headers of the delivery that failed last: a replay addressed to this consumer carries
        // its replay id there, and replaying the dead letter must keep addressing it
        + " headers = EXCLUDED.headers,"
        + " event_created_at = COALESCE(d.event_created_at, EXCLUDED.event_created_at),"
        // failing again after a replay parks it again, for the operator to look at anew
        + " status = EXCLUDED.status, resolved_at = NULL, resolved_by = NULL, resolution = NULL";
  }
}
