package dev.courier.relay;

import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.internal.EventLog;
import dev.courier.jdbc.TimePartitions;
import dev.courier.relay.LogStore.Acquired;
import dev.courier.relay.LogStore.Opened;
import dev.courier.relay.LogStore.Park;
import dev.courier.relay.LogStore.Snapshot;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Transport;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine of {@link Relay.ClaimMode#LOG}: publishes a log-mode outbox partition by partition,
 * each from a cursor of two snapshots, and never writes a row it publishes.
 *
 * <p><b>Reading.</b> A partition's cursor holds a done snapshot (every row whose transaction it
 * shows is published) and, while a batch is open, the batch's snapshot and how far into it the
 * broker has confirmed (a seq). Opening a batch takes a new snapshot: the batch is the rows that
 * snapshot shows and the done snapshot did not, read in pages in seq order. That set is closed (it
 * cannot grow once the snapshot is taken), every committed transaction falls into exactly one
 * batch, and within a batch rows go in the order they were appended. See docs/GUARANTEES.md for why
 * this keeps each key's order. Once the open batch is read to its end, the next batch is opened
 * after its snapshot and read behind it in the window, so that new rows go out while the open
 * batch's last rows await their confirmation (or their retry); the cursor stays in the open batch
 * until every row of it is resolved, and only then moves into the next.
 *
 * <p><b>Order and failures.</b> Rows wait in a window in seq order. A batch to publish takes
 * every due row whose key has no earlier unconfirmed row outside that batch; a row that fails is
 * retried with the relay's backoff while later rows of other keys go on. The cursor moves to the
 * end of the confirmed prefix. A row whose attempts run out, that cannot succeed, or that has
 * failed for longer than the stall limit while other rows were being confirmed is parked as dead,
 * and its key with it: the key's later rows are parked too, in order, until an operator replays.
 *
 * <p><b>Ownership.</b> Relays register in a table; the live ones divide the partitions by their
 * ids, and each takes its share when free or expired, under a new epoch. Every cursor write is
 * fenced by that epoch; a relay whose write finds the partition gone stops publishing it at once.
 * Before publishing, a relay also checks by its own monotonic clock that its lease still runs, so a
 * relay that was paused does not publish on a lease it no longer has.
 *
 * <p>Runs on one coordinating thread; publishing runs on the given executor and reports back.
 */
final class LogRelay {
  private static final Logger log = LoggerFactory.getLogger(LogRelay.class);

  /**
   * How many confirmed rows, as marks without their event, the windows may hold behind failing
   * rows, per row of the in-memory budget: past it, reading waits until the failing rows are
   * confirmed or parked.
   */
  private static final int MARKS_PER_BUDGET = 16;

  /**
   * How often the live relays are looked up between heartbeats, and the longest wait between two
   * ownership passes while the partitions are not yet where they should be.
   */
  private static final Duration REBALANCE_INTERVAL = Duration.ofMillis(200);

  /**
   * The first wait between ownership passes once the relays changed, doubled while the partitions
   * stay unsettled, up to {@link #REBALANCE_INTERVAL}: a partition given up is taken by its new
   * owner within tens of milliseconds, not a rebalance interval later, without polling the table
   * that often while an expired owner's lease runs out.
   */
  private static final Duration SETTLE_FIRST = Duration.ofMillis(25);

  /** How often a relay makes sure an outbox partitioned by time has its next partitions. */
  static final Duration TIME_PARTITION_CHECK = Duration.ofMinutes(1);

  private final Relay relay;
  private final LogStore store;
  private final Transport transport;
  private final RetryPolicy retryPolicy;
  private final String relayId;
  private final int batchSize;
  private final int windowLimit;
  private final Duration lease;
  private final Duration heartbeat;
  private final Duration stallLimit;
  private final Duration publishTimeout;
  private final Clock clock;
  private final Map<Integer, Lane> lanes = new TreeMap<>();
  private final ConcurrentLinkedQueue<Completion> completions = new ConcurrentLinkedQueue<>();
  private final Runnable onCompletion;
  private long nextMaintenance = Long.MIN_VALUE;
  private long nextMembershipCheck;
  /** the live relays the last ownership pass divided the partitions among */
  private List<String> lastLive;
  private boolean balanced;
  private Duration settleWait = SETTLE_FIRST;
  private int inFlight;
  private int rotation;
  /** The page being read, if any; one at a time. */
  private PendingRead pending;

  LogRelay(
      Relay relay,
      LogStore store,
      Transport transport,
      RetryPolicy retryPolicy,
      String relayId,
      int batchSize,
      int batchesInFlight,
      Duration lease,
      Duration heartbeat,
      Duration stallLimit,
      Duration publishTimeout,
      Clock clock,
      Runnable onCompletion) {
    this.relay = relay;
    this.store = store;
    this.transport = transport;
    this.retryPolicy = retryPolicy;
    this.relayId = relayId;
    this.batchSize = batchSize;
    // rows held in memory across all partitions: what is in flight, plus two batches ready
    this.windowLimit = batchSize * (batchesInFlight + 2);
    this.lease = lease;
    this.heartbeat = heartbeat;
    this.stallLimit = stallLimit;
    this.publishTimeout = publishTimeout;
    this.clock = clock;
    this.onCompletion = onCompletion;
  }

  /** A row read from the log, as it waits in a partition's window. */
  static final class Row {
    final long seq;
    final String txid;
    /** null once confirmed: a confirmed row waits in the window only as a mark for the cursor */
    Event event;
    final String key;
    int partition;
    int attempts;
    State state = State.WAITING;
    Instant due = Instant.MIN;
    Instant firstFailure;
    String error;

    Row(long seq, String txid, Event event, int attempts) {
      this.seq = seq;
      this.txid = txid;
      this.event = event;
      this.key = event.key() == null ? null : keyOf(event.destination(), event.key());
      this.attempts = attempts;
    }

    enum State {
      WAITING,
      IN_FLIGHT,
      CONFIRMED,
      /** to be written as dead at the next checkpoint */
      DEAD,
      /** to be written as parked behind its key's dead row at the next checkpoint */
      PARKED
    }

    boolean resolved() {
      return state == State.CONFIRMED || state == State.DEAD || state == State.PARKED;
    }
  }

  /** The identity of an ordering key: destination and key. */
  static String keyOf(String destination, String key) {
    return destination + '\u0000' + key;
  }

  /** A partition this relay owns. */
  private final class Lane {
    final int partition;
    final long epoch;
    final Set<String> parkedKeys;
    final ArrayDeque<Row> window = new ArrayDeque<>();
    /** dead and parked rows the cursor has passed, written by the next checkpoint */
    final List<Park> pendingParks = new ArrayList<>();
    Snapshot done;
    Snapshot batch;
    long last;
    /** rows of the open batch with seq at or below this are published or parked */
    long position;
    /** the last seq read into the window */
    long read;
    boolean exhausted;
    /** how many rows at the window's head belong to the open batch; the rest belong to the next */
    int batchRows;
    /**
     * The batch after the open one: opened and read once the open batch is read to its end, while
     * that batch's last rows are still in flight, so that publishing does not wait for them. It
     * becomes the open batch (and the cursor's) when every row of the open batch is resolved.
     */
    Snapshot next;
    /** the next batch's first read position (its first row's seq, less one) */
    long nextStart;
    long nextRead;
    long nextLast;
    boolean nextExhausted;
    boolean dirty;
    boolean releasing;
    int inFlight;
    /** rows of the window that still carry their event, and confirmed rows kept only as marks */
    int held;
    int marks;
    /** keys of this lane's rows in flight, with how many: a later row of such a key waits */
    final Map<String, Integer> inFlightKeys = new HashMap<>();
    /** set when a row of this lane waits for a retry; cleared when a look finds none */
    boolean mayRetry;
    long leaseValidUntil;
    Instant lastConfirm = Instant.MIN;

    Lane(int partition, Acquired a, Set<String> parkedKeys, long leaseValidUntil) {
      this.partition = partition;
      this.epoch = a.epoch();
      this.parkedKeys = parkedKeys;
      this.done = a.done();
      this.batch = a.batch();
      this.position = a.position();
      this.read = a.position();
      this.leaseValidUntil = leaseValidUntil;
      // a batch taken over from another owner: its last seq is found again by its first page
      this.last = Long.MAX_VALUE;
    }
  }

  /**
   * Where a group of lanes reads next: after one snapshot, up to another, from a seq; {@code next}
   * when that is the batch after the open one.
   */
  private record ReadPoint(boolean next, String after, String upTo, long from) {
    /** The same rows to read, whether or not the batch has become the open one meanwhile. */
    boolean samePlace(ReadPoint other) {
      return after.equals(other.after) && upTo.equals(other.upTo) && from == other.from;
    }
  }

  /** A page asked of the reader for a group of lanes. */
  private record PendingRead(ReadPoint point, List<Lane> lanes, int limit, CompletableFuture<List<Row>> rows) {}

  /** A published batch's results, handed back to the coordinating thread. */
  private record Completion(List<Lane> lanes, List<Row> rows, List<PublishResult> results, long nanos) {}

  /** What one {@link #pass} did, for {@link Relay#runOnce()} and the loop's pacing. */
  record PassResult(int read, int sent, int published, int retried, int dead) {
    boolean progressed() {
      return read + sent + published + retried + dead > 0;
    }
  }

  private int passRead;
  private int passSent;
  private int passPublished;
  private int passRetried;
  private int passDead;

  /**
   * One pass of the coordinating thread: ownership when due, the results of finished publishes,
   * new batches and pages, and as many batches sent as permits allow.
   *
   * @param publisher runs a publish; {@code Runnable::run} publishes inline
   * @param reader reads pages ahead on a second connection of the store, while this thread goes on
   * @param permits one per batch in flight: taken without waiting when a batch is sent, given back
   *     when its results are recorded
   */
  PassResult pass(Executor publisher, Executor reader, Semaphore permits) throws SQLException {
    return pass(publisher, reader, reader != null, permits);
  }

  /** A pass that reads its pages inline, on the store's one connection: for stepping the relay. */
  PassResult passInline(Semaphore permits) throws SQLException {
    return pass(Runnable::run, Runnable::run, false, permits);
  }

  private PassResult pass(Executor publisher, Executor reader, boolean ahead, Semaphore permits)
      throws SQLException {
    passRead = passSent = passPublished = passRetried = passDead = 0;
    long nowNanos = System.nanoTime();
    boolean due = nowNanos - nextMaintenance >= 0 || nextMaintenance == Long.MIN_VALUE;
    boolean changed = !due && membershipChanged(nowNanos);
    if (due || changed) {
      if (changed) {
        settleWait = SETTLE_FIRST;
      }
      maintain();
      Duration wait;
      if (balanced) {
        wait = heartbeat;
        settleWait = SETTLE_FIRST;
      } else {
        wait = settleWait;
        settleWait = Relay.min(settleWait.multipliedBy(2), REBALANCE_INTERVAL);
      }
      nextMaintenance = System.nanoTime() + wait.toNanos();
      nextMembershipCheck = System.nanoTime() + REBALANCE_INTERVAL.toNanos();
    }
    drainCompletions(permits);
    // a partition another relay should now have is given up as soon as nothing of it is in
    // flight, not at the next ownership pass
    for (Lane lane : new ArrayList<>(lanes.values())) {
      if (lane.releasing && lane.inFlight == 0) {
        giveBack(lane);
      }
    }
    fill(reader, ahead);
    dispatch(publisher, permits);
    drainCompletions(permits);
    List<Lane> parking = new ArrayList<>();
    for (Lane lane : lanes.values()) {
      if (!lane.pendingParks.isEmpty()) {
        parking.add(lane);
      }
    }
    // rows parked behind a dead key as they were read: written now, not at the next heartbeat
    checkpoint(parking, true);
    return new PassResult(passRead, passSent, passPublished, passRetried, passDead);
  }

  /** When the next retry of a failed row is due, if any waits. */
  Instant nextRetry() {
    Instant next = null;
    for (Lane lane : lanes.values()) {
      if (!lane.mayRetry) {
        continue;
      }
      boolean found = false;
      for (Row r : lane.window) {
        if (r.state == Row.State.WAITING && r.firstFailure != null) {
          found = true;
          if (next == null || r.due.isBefore(next)) {
            next = r.due;
          }
        }
      }
      lane.mayRetry = found;
    }
    return next;
  }

  int ownedPartitions() {
    return lanes.size();
  }

  /**
   * How long until the next ownership pass while the partitions are not yet where they should be
   * (an idle relay waits no longer than that); null once they are.
   */
  Duration untilSettling() {
    if (balanced) {
      return null;
    }
    long left = nextMaintenance - System.nanoTime();
    return left <= 0 ? Duration.ZERO : Duration.ofNanos(left);
  }

  boolean idle() {
    return inFlight == 0 && completions.isEmpty();
  }

  // ---------------------------------------------------------------- ownership

  private long nextTimePartitionCheck = Long.MIN_VALUE;
  private long nextSharedIdLog = System.nanoTime();
  // tells this relay process apart from another one given the same id (microseconds, as stored);
  // an identity, not a time anything is decided by, so not from the injected clock: two relays
  // built on one standing test clock would otherwise look like one process
  private final Instant startedAt = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MICROS);

  /**
   * Creates the next time partitions of an outbox partitioned by time. A failure is logged, never
   * thrown: publishing goes on, and rows no partition covers land in the default one.
   */
  private void maintainTimePartitions() {
    try {
      TimePartitions.Maintenance m = store.maintainTimePartitions(clock.instant());
      if (!m.created().isEmpty()) {
        log.info("relay {} created the outbox partitions {}", relayId, m.created());
      }
      if (!m.skipped().isEmpty()) {
        log.warn(
            "relay {} could not create the outbox partitions {}; their rows go to the default partition",
            relayId,
            m.skipped());
      }
    } catch (RuntimeException e) {
      log.warn("relay {} could not check the outbox's time partitions: {}", relayId, e.getMessage());
    }
  }

  /**
   * Registers this relay among the outbox's relays (the first heartbeat), saying at once if
   * another live relay process holds its id.
   *
   * @return false if another live relay process holds the id: this one publishes nothing until
   *     that one's heartbeat is older than the lease (a process killed a moment ago, restarted
   *     under its old id, waits that long, as its partitions' leases make it do anyway)
   */
  boolean register() throws SQLException {
    return heartbeat();
  }

  private boolean heartbeat() throws SQLException {
    if (store.heartbeat(relayId, startedAt, lease)) {
      return true;
    }
    // another live process holds the id: its partitions are not this one's to publish
    if (System.nanoTime() - nextSharedIdLog >= 0) {
      log.error(
          "relay {}: another relay process with this id is publishing the outbox; give each relay its own"
              + " id (courier.relay.id, Relay.Builder.relayId). This one publishes nothing while the other's"
              + " heartbeat is fresh",
          relayId);
      nextSharedIdLog = System.nanoTime() + Duration.ofMinutes(1).toNanos();
    }
    for (Lane lane : new ArrayList<>(lanes.values())) {
      fenced(lane);
    }
    return false;
  }

  /**
   * Whether the live relays differ from those the last ownership pass divided the partitions
   * among; looked up every {@link #REBALANCE_INTERVAL} between heartbeats, so that a relay that
   * joins or leaves is noticed at once, not a heartbeat later: until the others notice, the
   * partitions the new division gives them stay unpublished.
   */
  private boolean membershipChanged(long nowNanos) throws SQLException {
    if (lastLive == null || nowNanos - nextMembershipCheck < 0) {
      return false;
    }
    nextMembershipCheck = nowNanos + REBALANCE_INTERVAL.toNanos();
    return !withSelf(store.liveRelays(lease, false)).equals(lastLive);
  }

  private List<String> withSelf(List<String> live) {
    if (live.contains(relayId)) {
      return live;
    }
    List<String> all = new ArrayList<>(live);
    all.add(relayId);
    all.sort(null);
    return all;
  }

  private void maintain() throws SQLException {
    if (!heartbeat()) {
      return;
    }
    if (nextTimePartitionCheck == Long.MIN_VALUE || System.nanoTime() - nextTimePartitionCheck >= 0) {
      nextTimePartitionCheck = System.nanoTime() + TIME_PARTITION_CHECK.toNanos();
      maintainTimePartitions();
    }
    List<String> live = withSelf(store.liveRelays(lease));
    lastLive = live;
    int me = live.indexOf(relayId);
    int members = live.size();
    Map<Integer, String> owners = store.owners();
    boolean settled = true;
    // renew what is kept, give back what another relay should have
    List<Lane> kept = new ArrayList<>();
    for (Lane lane : new ArrayList<>(lanes.values())) {
      // another relay's share now; taken back if the relays change again before it is given up
      lane.releasing = lane.partition % members != me;
      if (lane.releasing) {
        settled = false;
      }
      if (lane.releasing && lane.inFlight == 0) {
        giveBack(lane);
      } else {
        kept.add(lane);
      }
    }
    checkpoint(kept, false);
    for (int p = 0; p < store.partitions(); p++) {
      if (p % members != me || lanes.containsKey(p)) {
        continue;
      }
      String owner = owners.get(p);
      if (owner != null && !owner.equals(relayId)) {
        settled = false;
        continue;
      }
      long leaseStart = System.nanoTime();
      Acquired a = store.acquire(p, relayId, lease);
      if (a == null) {
        settled = false;
        continue;
      }
      Lane lane = new Lane(p, a, store.parkedKeys(p), leaseStart + leaseNanos());
      lanes.put(p, lane);
      log.info(
          "relay {} took partition {} (epoch {}, {} parked keys)", relayId, p, a.epoch(), lane.parkedKeys.size());
    }
    balanced = settled;
  }

  private static List<Park> takeParks(Lane lane) {
    List<Park> parks = List.copyOf(lane.pendingParks);
    lane.pendingParks.clear();
    return parks;
  }

  private static void restoreParks(Lane lane, List<Park> parks) {
    lane.pendingParks.addAll(0, parks);
  }

  private long leaseNanos() {
    // keep a margin for a publish that is about to start: stop sending well before the lease ends
    return lease.minus(publishTimeout).toNanos();
  }

  private void giveBack(Lane lane) throws SQLException {
    lanes.remove(lane.partition);
    advance(lane);
    if (store.checkpoint(
        lane.partition, relayId, lane.epoch, lane.done, lane.batch, lane.position, takeParks(lane), lease, true, clock.instant())) {
      log.info("relay {} gave partition {} back", relayId, lane.partition);
    }
  }

  /** Records the batches that finished publishing, as a pass does first. */
  void drain(Semaphore permits) {
    drainCompletions(permits);
  }

  /** Gives every partition back, writing its cursor; called once nothing is in flight. */
  void releaseAll(Semaphore permits) {
    drainCompletions(permits);
    for (Lane lane : new ArrayList<>(lanes.values())) {
      try {
        giveBack(lane);
      } catch (SQLException e) {
        log.warn(
            "relay {} could not give partition {} back; another relay takes it when its lease ends: {}",
            relayId,
            lane.partition,
            e.toString());
      }
    }
    lanes.clear();
    try {
      store.leave(relayId, startedAt);
    } catch (SQLException e) {
      log.warn("relay {} could not unregister: {}", relayId, e.toString());
    }
    store.close();
  }

  /** Writes a lane's cursor (fenced); drops the lane when another relay has taken the partition. */
  private void checkpoint(Lane lane, boolean always) throws SQLException {
    checkpoint(List.of(lane), always);
  }

  /**
   * Writes the cursors of the lanes that moved (or whose lease is due, or that have rows to park,
   * or all with {@code always}) in one transaction, each fenced by its epoch; drops a lane whose
   * partition another relay has taken.
   */
  private void checkpoint(Collection<Lane> candidates, boolean always) throws SQLException {
    List<Lane> due = new ArrayList<>();
    List<LogStore.Cursor> cursors = new ArrayList<>();
    Map<Integer, List<Park>> parks = new HashMap<>();
    for (Lane lane : candidates) {
      List<Park> p = takeParks(lane);
      if (!always && !lane.dirty && p.isEmpty() && !leaseDueForRenewal(lane)) {
        continue;
      }
      due.add(lane);
      cursors.add(new LogStore.Cursor(lane.partition, lane.epoch, lane.done, lane.batch, lane.position));
      if (!p.isEmpty()) {
        parks.put(lane.partition, p);
      }
    }
    if (due.isEmpty()) {
      return;
    }
    long started = System.nanoTime();
    Set<Integer> kept;
    try {
      kept = store.checkpoint(relayId, cursors, parks, lease, clock.instant());
    } catch (SQLException e) {
      // the parks are written again with the next checkpoint
      for (Lane lane : due) {
        List<Park> p = parks.get(lane.partition);
        if (p != null) {
          restoreParks(lane, p);
        }
      }
      throw e;
    }
    for (Lane lane : due) {
      if (!kept.contains(lane.partition)) {
        fenced(lane);
        continue;
      }
      lane.dirty = false;
      lane.leaseValidUntil = started + leaseNanos();
    }
  }

  private boolean leaseDueForRenewal(Lane lane) {
    return lane.leaseValidUntil - System.nanoTime() < leaseNanos() - heartbeat.toNanos();
  }

  private void fenced(Lane lane) {
    lanes.remove(lane.partition);
    lane.window.clear();
    lane.held = 0;
    lane.marks = 0;
    relay.logFenced();
    log.warn(
        "relay {} lost partition {} (epoch {}) to another relay; it stops publishing it now and the new"
            + " owner publishes again from the last written cursor",
        relayId,
        lane.partition,
        lane.epoch);
  }

  // ---------------------------------------------------------------- reading

  private void fill(Executor reader, boolean ahead) throws SQLException {
    // a lane with no batch opens one after its done snapshot; a lane whose open batch is read to
    // its end opens the next one after that batch's snapshot
    Map<Integer, Snapshot> toOpen = new LinkedHashMap<>();
    for (Lane lane : lanes.values()) {
      if (lane.releasing) {
        continue;
      }
      if (lane.batch == null && lane.window.isEmpty()) {
        toOpen.put(lane.partition, lane.done);
      } else if (lane.batch != null && lane.exhausted && lane.next == null) {
        toOpen.put(lane.partition, lane.batch);
      }
    }
    if (!toOpen.isEmpty()) {
      List<Opened> opened = store.openBatches(toOpen);
      // lanes that open a batch after the same snapshot share one: the same new snapshot, and one
      // read position (the first new row of any of them), so that they are read together
      Map<String, Long> firstBySince = new HashMap<>();
      for (Opened o : opened) {
        if (o.count() > 0) {
          firstBySince.merge(toOpen.get(o.partition()).text(), o.first(), Math::min);
        }
      }
      for (Opened o : opened) {
        Lane lane = lanes.get(o.partition());
        if (lane.batch != null) {
          if (o.count() > 0) {
            lane.next = o.snapshot();
            lane.nextStart = firstBySince.get(lane.batch.text()) - 1;
            lane.nextRead = lane.nextStart;
            lane.nextLast = o.last();
            lane.nextExhausted = false;
          }
          continue;
        }
        if (o.count() == 0) {
          if (!o.snapshot().text().equals(lane.done.text())) {
            lane.done = o.snapshot();
            lane.dirty = true;
          }
          continue;
        }
        lane.position = firstBySince.get(lane.done.text()) - 1;
        lane.batch = o.snapshot();
        lane.last = o.last();
        lane.read = lane.position;
        lane.exhausted = false;
        lane.dirty = true;
      }
    }
    // lanes at the same point of the same batch are read by one query in seq order, while the rows
    // held in memory stay within the budget
    // Confirmed rows behind a failing one stay in the window as marks without their event, so that
    // other keys go on past a failing event; the marks are bounded too
    // Pages are read on the reader: one at a time, each taken in by the first pass after it
    // arrives, and the next one asked for at once, so that the read overlaps the pass's other work
    Set<Lane> readThisPass = new HashSet<>();
    while (true) {
      if (pending != null) {
        if (!pending.rows().isDone()) {
          return;
        }
        PendingRead p = pending;
        pending = null;
        takeIn(p);
        readThisPass.addAll(p.lanes());
      }
      int held = 0;
      int marks = 0;
      for (Lane lane : lanes.values()) {
        held += lane.held;
        marks += lane.marks;
      }
      if (held + batchSize > windowLimit || marks > windowLimit * MARKS_PER_BUDGET) {
        return;
      }
      // a lane reads its open batch, or once that is read to its end, its next batch
      Map<ReadPoint, List<Lane>> groups = new LinkedHashMap<>();
      for (Lane lane : lanes.values()) {
        ReadPoint point = pointOf(lane);
        if (point != null && !readThisPass.contains(lane)) {
          groups.computeIfAbsent(point, k -> new ArrayList<>()).add(lane);
        }
      }
      if (groups.isEmpty()) {
        return;
      }
      Map.Entry<ReadPoint, List<Lane>> group = groups.entrySet().iterator().next();
      pending =
          read(group.getKey(), group.getValue(), Math.max(batchSize, windowLimit - held), reader, ahead);
      readThisPass.addAll(group.getValue());
    }
  }

  /** Where a lane reads next, or null when it has nothing to read. */
  private static ReadPoint pointOf(Lane lane) {
    if (lane.releasing || lane.batch == null) {
      return null;
    }
    if (!lane.exhausted) {
      return new ReadPoint(false, lane.done.text(), lane.batch.text(), lane.read);
    }
    if (lane.next != null && !lane.nextExhausted) {
      return new ReadPoint(true, lane.batch.text(), lane.next.text(), lane.nextRead);
    }
    return null;
  }

  /** Asks the reader for the page of {@code group} at {@code point}. */
  private PendingRead read(
      ReadPoint point, List<Lane> group, int limit, Executor reader, boolean ahead) {
    Lane first = group.getFirst();
    Snapshot after = point.next() ? first.batch : first.done;
    Snapshot upTo = point.next() ? first.next : first.batch;
    long last = group.stream().mapToLong(l -> point.next() ? l.nextLast : l.last).max().orElseThrow();
    List<Integer> partitions = group.stream().map(l -> l.partition).toList();
    CompletableFuture<List<Row>> rows = new CompletableFuture<>();
    try {
      reader.execute(
          () -> {
            try {
              rows.complete(store.page(partitions, after, upTo, point.from(), last, limit, ahead));
            } catch (SQLException | RuntimeException e) {
              rows.completeExceptionally(e);
            } finally {
              onCompletion.run();
            }
          });
    } catch (RuntimeException e) {
      rows.completeExceptionally(e); // the reader is shut down: the relay is stopping
    }
    return new PendingRead(point, List.copyOf(group), limit, rows);
  }

  /**
   * Takes a page that arrived into the windows of its lanes, those still where they were when it
   * was asked for (a lane given up or moved on meanwhile reads its rows again later).
   */
  private void takeIn(PendingRead p) throws SQLException {
    List<Row> rows;
    try {
      rows = p.rows().join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof SQLException sql) {
        throw sql;
      }
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
    Map<Integer, Lane> byPartition = new HashMap<>();
    for (Lane lane : p.lanes()) {
      ReadPoint now = pointOf(lane);
      if (lanes.get(lane.partition) == lane && now != null && now.samePlace(p.point())) {
        byPartition.put(lane.partition, lane);
      }
    }
    if (byPartition.isEmpty()) {
      return;
    }
    Set<Lane> refreshed = new HashSet<>();
    for (Row r : rows) {
      Lane lane = byPartition.get(r.partition);
      if (lane == null) {
        continue;
      }
      passRead++;
      if (r.key != null && lane.parkedKeys.contains(r.key) && refreshed.add(lane)) {
        refreshParkedKeys(lane);
      }
      if (r.key != null && lane.parkedKeys.contains(r.key)) {
        r.state = Row.State.PARKED;
      }
      lane.window.addLast(r);
      lane.held++;
      if (!lane.exhausted) {
        lane.batchRows++;
      }
    }
    long readTo = rows.isEmpty() ? p.point().from() : rows.getLast().seq;
    boolean short_ = rows.size() < p.limit();
    for (Lane lane : byPartition.values()) {
      if (lane.exhausted) {
        lane.nextRead = readTo;
        lane.nextExhausted = short_ || readTo >= lane.nextLast;
      } else {
        lane.read = readTo;
        lane.exhausted = short_ || readTo >= lane.last;
      }
      advance(lane);
    }
  }

  /**
   * Reads a partition's parked keys again: an operator may have replayed one since it was parked.
   * Keys this relay parked and has not written yet are kept.
   */
  private void refreshParkedKeys(Lane lane) throws SQLException {
    lane.parkedKeys.clear();
    lane.parkedKeys.addAll(store.parkedKeys(lane.partition));
    for (Park p : lane.pendingParks) {
      if (p.key() != null) {
        lane.parkedKeys.add(p.key());
      }
    }
    for (Row w : lane.window) {
      if (w.key != null && (w.state == Row.State.DEAD || w.state == Row.State.PARKED)) {
        lane.parkedKeys.add(w.key);
      }
    }
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Sends batches while permits last. A batch takes due rows from every partition this relay owns,
   * in turn, up to the batch size: the partitions' keys are disjoint, so one batch may mix them.
   */
  private void dispatch(Executor publisher, Semaphore permits) {
    if (lanes.isEmpty()) {
      return;
    }
    List<Lane> order = new ArrayList<>(lanes.values());
    int n = order.size();
    while (true) {
      // a batch is only gathered with a permit to send it: gathering rows and handing them back
      // would cost a walk through every window on each pass while the batches in flight are full
      if (!permits.tryAcquire()) {
        return;
      }
      rotation = (rotation + 1) % n;
      Instant now = clock.instant();
      List<Row> rows = new ArrayList<>();
      List<Lane> owners = new ArrayList<>();
      for (int i = 0; i < n && rows.size() < batchSize; i++) {
        Lane lane = order.get((rotation + i) % n);
        if (lane.releasing || lanes.get(lane.partition) != lane) {
          continue;
        }
        if (System.nanoTime() - lane.leaseValidUntil > 0) {
          // the lease may have ended (a long pause): publish nothing until a checkpoint renews it
          continue;
        }
        int before = rows.size();
        takeDue(lane, now, batchSize - rows.size(), rows);
        for (int k = before; k < rows.size(); k++) {
          owners.add(lane);
        }
      }
      if (rows.isEmpty()) {
        permits.release();
        return;
      }
      send(owners, rows, publisher);
    }
  }

  /**
   * Adds to {@code into}, up to {@code max}, a lane's due rows in seq order whose key has no earlier
   * unresolved row outside this batch nor an earlier row being retried in it, and marks them in
   * flight.
   */
  private void takeDue(Lane lane, Instant now, int max, List<Row> into) {
    // keys with an earlier row that does not go out in this batch (in flight in another batch,
    // waiting for its retry, parked): their later rows wait. A key whose earlier rows all go out
    // in this batch needs no entry, so on a clean run only the batches in flight fill it.
    // Keys in flight are counted in the lane as batches go out and come back, so rows in flight
    // are passed over here without a look at their key.
    Set<String> blocked = null;
    int taken = 0;
    for (Row r : lane.window) {
      if (taken >= max) {
        break;
      }
      if (r.state != Row.State.WAITING) {
        continue; // resolved, or in flight
      }
      if (r.key != null
          && ((blocked != null && blocked.contains(r.key)) || lane.inFlightKeys.containsKey(r.key))) {
        continue;
      }
      if (!r.due.isAfter(now)) {
        r.state = Row.State.IN_FLIGHT;
        if (r.key != null) {
          lane.inFlightKeys.merge(r.key, 1, Integer::sum);
        }
        into.add(r);
        taken++;
        if (r.key != null && r.firstFailure != null) {
          // a row being retried goes out without its key's later rows: they wait for its outcome
          if (blocked == null) {
            blocked = new HashSet<>();
          }
          blocked.add(r.key);
        }
      } else if (r.key != null) {
        // waiting for its retry: its key's later rows wait for it
        if (blocked == null) {
          blocked = new HashSet<>();
        }
        blocked.add(r.key);
      }
    }
  }

  /** The lanes of a batch, each once: a batch holds each lane's rows together. */
  private static List<Lane> distinct(List<Lane> owners) {
    List<Lane> lanes = new ArrayList<>();
    Lane previous = null;
    for (Lane lane : owners) {
      if (lane != previous && !lanes.contains(lane)) {
        lanes.add(lane);
      }
      previous = lane;
    }
    return lanes;
  }

  private void send(List<Lane> owners, List<Row> rows, Executor publisher) {
    for (Lane lane : distinct(owners)) {
      lane.inFlight++;
    }
    inFlight++;
    passSent += rows.size();
    List<Event> events = new ArrayList<>(rows.size());
    for (Row r : rows) {
      events.add(r.event);
    }
    publisher.execute(
        () -> {
          long started = System.nanoTime();
          List<PublishResult> results = null;
          try {
            results = transport.publish(events, publishTimeout);
          } catch (RuntimeException e) {
            log.warn("transport {} failed a whole batch of {}: {}", transport.name(), rows.size(), e.toString());
            results = failedAll(rows, e);
          } finally {
            // even an Error hands the batch back, so that its rows are retried and the relay can stop
            completions.add(
                new Completion(
                    owners,
                    rows,
                    results != null ? results : failedAll(rows, new RetriableCourierException("the publish did not return", null)),
                    System.nanoTime() - started));
            onCompletion.run();
          }
        });
  }

  private static List<PublishResult> failedAll(List<Row> rows, Throwable error) {
    List<PublishResult> results = new ArrayList<>(rows.size());
    for (Row r : rows) {
      results.add(new PublishResult.Failed(r.event.id(), error, true));
    }
    return results;
  }

  private void drainCompletions(Semaphore permits) {
    Completion c;
    Set<Lane> touched = new HashSet<>();
    while ((c = completions.poll()) != null) {
      inFlight--;
      permits.release();
      relay.recordPublishLatency(c.nanos());
      // a transport returns the results in the batch's order; looked up by id only if one did not
      List<PublishResult> results = c.results();
      Map<UUID, PublishResult> byId = null;
      Instant now = clock.instant();
      for (Lane lane : distinct(c.lanes())) {
        lane.inFlight--;
      }
      Lane current = null;
      boolean owned = false;
      for (int i = 0; i < c.rows().size(); i++) {
        Lane lane = c.lanes().get(i);
        if (lane != current) {
          current = lane;
          owned = lanes.get(lane.partition) == lane;
        }
        if (!owned) {
          continue; // the partition was lost meanwhile: its new owner publishes these again
        }
        Row row = c.rows().get(i);
        if (row.key != null) {
          lane.inFlightKeys.computeIfPresent(row.key, (k, count) -> count == 1 ? null : count - 1);
        }
        PublishResult result = i < results.size() ? results.get(i) : null;
        if (result == null || !result.eventId().equals(row.event.id())) {
          if (byId == null) {
            byId = new HashMap<>(results.size() * 2);
            for (PublishResult r : results) {
              byId.put(r.eventId(), r);
            }
          }
          result = byId.get(row.event.id());
        }
        record(lane, row, result, now);
        touched.add(lane);
      }
    }
    for (Lane lane : touched) {
      advance(lane);
    }
    try {
      checkpoint(touched, false);
    } catch (SQLException e) {
      log.error(
          "relay {} could not write the cursors of partitions {}; they are written with the next checkpoint: {}",
          relayId,
          touched.stream().map(l -> l.partition).sorted().toList(),
          e.toString());
    }
  }

  private void record(Lane lane, Row row, PublishResult result, Instant now) {
    row.attempts++;
    if (result == null) {
      result =
          new PublishResult.Failed(
              row.event.id(),
              new RetriableCourierException("transport " + transport.name() + " returned no result for the event", null),
              true);
    }
    switch (result) {
      case PublishResult.Confirmed c -> {
        row.state = Row.State.CONFIRMED;
        lane.lastConfirm = now;
        passPublished++;
        relay.recordConfirmed(row.event, now, c);
        row.event = null;
        lane.held--;
        lane.marks++;
      }
      case PublishResult.Failed f -> fail(lane, row, f, now);
    }
  }

  private void fail(Lane lane, Row row, PublishResult.Failed f, Instant now) {
    relay.recordFailure(row.event);
    row.error = f.error().toString();
    if (row.firstFailure == null) {
      row.firstFailure = now;
    }
    boolean stalling =
        lane.lastConfirm.isAfter(row.firstFailure)
            && !now.isBefore(row.firstFailure.plus(stallLimit));
    boolean dead = !f.retriable() || !retryPolicy.canRetry(row.attempts) || stalling;
    try (EventLog ignored = EventLog.of(row.event).with(EventLog.ATTEMPT, row.attempts)) {
      if (!dead) {
        Duration delay = retryPolicy.delay(row.attempts);
        row.state = Row.State.WAITING;
        row.due = now.plus(delay);
        lane.mayRetry = true;
        passRetried++;
        relay.recordRetry(row.event);
        log.warn(
            "publish attempt {} of {} failed, retrying in {} ms: {}",
            row.attempts,
            retryPolicy.maxAttempts(),
            delay.toMillis(),
            row.error);
        return;
      }
      row.state = Row.State.DEAD;
      passDead++;
      relay.recordDead(row.event);
      log.error(
          "publish failed {}; row parked as DEAD after {} attempt(s){}: {}",
          !f.retriable() ? "and cannot succeed by retrying" : stalling ? "for longer than the stall limit" : "on its last attempt",
          row.attempts,
          row.key == null ? "" : ", and its key's later events are parked behind it",
          row.error);
    }
    if (row.key != null) {
      lane.parkedKeys.add(row.key);
      for (Row later : lane.window) {
        if (later.seq > row.seq && row.key.equals(later.key) && later.state == Row.State.WAITING) {
          later.state = Row.State.PARKED;
        }
      }
    }
  }

  /**
   * Moves a lane's cursor over its resolved prefix. When every row of the open batch is resolved,
   * its snapshot is done, and the next batch, if one is open, takes its place.
   */
  private void advance(Lane lane) {
    while (true) {
      if (lane.batch != null && lane.exhausted && lane.batchRows == 0) {
        lane.done = lane.batch;
        lane.dirty = true;
        if (lane.next == null) {
          lane.batch = null;
          lane.position = 0;
          lane.read = 0;
          return;
        }
        // the next batch's rows (read so far) are the window now
        lane.batch = lane.next;
        lane.position = lane.nextStart;
        lane.read = lane.nextRead;
        lane.last = lane.nextLast;
        lane.exhausted = lane.nextExhausted;
        lane.batchRows = lane.window.size();
        lane.next = null;
      }
      Row r = lane.window.peekFirst();
      if (r == null || !r.resolved()) {
        return;
      }
      lane.window.pollFirst();
      if (r.event == null) {
        lane.marks--;
      } else {
        lane.held--;
      }
      lane.batchRows--;
      if (r.state != Row.State.CONFIRMED) {
        // dead and parked rows leave the window with the checkpoint that writes them
        lane.pendingParks.add(new Park(r.seq, r.txid, r.key, r.state == Row.State.DEAD, r.attempts, r.error));
      }
      lane.position = r.seq;
      lane.dirty = true;
    }
  }
}
