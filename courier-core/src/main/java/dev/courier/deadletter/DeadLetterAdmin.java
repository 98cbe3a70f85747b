package dev.courier.deadletter;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.admin.Attribution;
import dev.courier.admin.InvalidRequestException;
import dev.courier.admin.NotFoundException;
import dev.courier.admin.Page;
import dev.courier.internal.DatabaseFailures;
import dev.courier.jdbc.CourierTables;
import dev.courier.metrics.CourierMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;

/**
 * Operator-side view of the consumers' dead letters: how many each consumer has parked, and the
 * {@value CourierMetrics#CONSUMER_DEAD_LETTER_BACKLOG} gauge that exports it, one series per
 * consumer; and what an operator does about them: {@link #list list}, {@link #show show}, {@link
 * #groups group by failure fingerprint}, {@link #replay replay} and {@link #discard discard}.
 *
 * <p><b>Replay.</b> A replayed dead letter is put back in the outbox of the same database, with its
 * own event id, for the relay to publish to its destination again (with a fresh outbox position, in
 * dead-letter order; a published row of the event still in the outbox is moved to the archive
 * first). In ordered mode the events parked behind a replayed dead letter are released with it, in
 * order, and a parked event is not replayed ahead of the dead letter it waits behind. The consumer that dead-lettered it never
 * recorded it in its processed-events ledger (the ledger row is rolled back with the failed
 * handler), so it processes it; other consumers of the destination that did process it skip it as
 * a duplicate. A dead letter whose event the consumer's ledger does hold is marked replayed without
 * being enqueued. Each replay has a replay id; submitting the same id again enqueues nothing more,
 * also when two submissions race (the replays table's primary key decides). Every replay and
 * discard writes an audit row in the same transaction.
 *
 * <p>The gauge of a consumer exists from the moment it is known: consumers given to {@link
 * Builder#consumers(Collection)} are exported at once (at 0 while they have no dead letter), so that
 * a monitor sees the first dead letter as growth from 0; consumers that only appear in the table
 * get their series when a count first finds them. A consumer whose dead letters were all replayed
 * or discarded stays exported at 0.
 *
 * <p>Counting is one grouped query over the {@code DEAD} rows, in its own short transaction. The
 * gauges reuse a result for the cache period however often they are scraped; a failed query leaves
 * the last values in place (NaN before the first success). Thread-safe.
 */
public final class DeadLetterAdmin implements MeterBinder {
  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final Duration gaugeCacheTtl;
  private final Set<String> declared;
  private final AtomicReference<DeadLetterCounts> cached = new AtomicReference<>();
  private final List<MeterRegistry> registries = new CopyOnWriteArrayList<>();
  private final Set<String> exported = ConcurrentHashMap.newKeySet();
  private final DeadLetterOperations operations;

  private DeadLetterAdmin(Builder b) {
    this.dataSource = b.dataSource;
    this.tables = b.tables;
    this.clock = b.clock;
    this.gaugeCacheTtl = b.gaugeCacheTtl;
    this.declared = Set.copyOf(b.consumers);
    this.operations = new DeadLetterOperations(dataSource, tables, clock);
  }

  public static Builder builder(DataSource dataSource) {
    return new Builder(dataSource);
  }

  /** The tables this admin reads. */
  public CourierTables tables() {
    return tables;
  }

  /**
   * Counts the dead letters parked ({@code DEAD}) per consumer. Declared consumers without any are
   * included with 0.
   *
   * @throws CourierException if the dead-letter table cannot be read
   */
  public DeadLetterCounts counts() {
    String sql =
        "SELECT consumer, count(*) AS parked FROM "
            + tables.deadLetters()
            + " WHERE status = 'DEAD' GROUP BY consumer";
    Map<String, Long> byConsumer = new TreeMap<>();
    for (String c : declared) {
      byConsumer.put(c, 0L);
    }
    Instant now = clock.instant();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        byConsumer.put(rs.getString("consumer"), rs.getLong("parked"));
      }
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not count dead letters in " + tables.deadLetters(), e);
    }
    DeadLetterCounts counts = new DeadLetterCounts(byConsumer, now);
    cached.set(counts);
    exportNew(counts.byConsumer().keySet());
    return counts;
  }

  /**
   * One page of the dead letters matching {@code filter} (any status unless the filter names one),
   * newest first.
   *
   * @param page the page, starting at 1
   * @param size rows per page, 1 to {@value Page#MAX_SIZE}
   * @throws InvalidRequestException for a bad page or size
   * @throws CourierException if the table cannot be read
   */
  public Page<DeadLetterSummary> list(DeadLetterFilter filter, int page, int size) {
    return operations.list(filter, page, size);
  }

  /**
   * Everything stored about one dead letter.
   *
   * @throws NotFoundException if there is no dead letter with this id
   */
  public DeadLetterDetail show(long id) {
    return operations.show(id);
  }

  /** The most groups {@link #groups(int)} returns in one call. */
  public static final int MAX_GROUPS = 1_000;

  /** The most dead letters {@link #discard(DeadLetterFilter, Attribution, int)} discards in one call. */
  public static final int MAX_DISCARD = 10_000;

  /** The 100 largest groups of parked dead letters by {@link Fingerprint}; see {@link #groups(int)}. */
  public List<FingerprintGroup> groups() {
    return groups(100);
  }

  /**
   * The parked dead letters grouped by {@link Fingerprint}, largest group first, at most {@code limit}
   * groups.
   *
   * @throws InvalidRequestException if {@code limit} is not between 1 and {@value #MAX_GROUPS}
   */
  public List<FingerprintGroup> groups(int limit) {
    requireLimit("limit", limit, MAX_GROUPS);
    return operations.groups(limit);
  }

  /**
   * Replays the parked dead letters the request selects (see the class comment), or with {@link
   * ReplayRequest#dryRun()} only reports which it would replay.
   *
   * @throws InvalidRequestException if the filter selects nothing in particular and is not
   *     explicitly "all"
   * @throws NotFoundException if the request names an id that does not exist; nothing is changed
   * @throws CourierException if the database fails; nothing is changed
   */
  public ReplayResult replay(ReplayRequest request) {
    return operations.replay(request);
  }

  /**
   * Discards the parked dead letters {@code filter} selects: they stay in the table, with status
   * {@link DeadLetterStatus#DISCARDED}, who and why.
   *
   * @return the ids discarded, ascending
   * @throws InvalidRequestException if {@code who} has no reason, or the filter selects nothing in
   *     particular and is not explicitly "all"
   * @throws NotFoundException if the filter names an id that does not exist; nothing is changed
   */
  public List<Long> discard(DeadLetterFilter filter, Attribution who) {
    return discard(filter, who, MAX_DISCARD);
  }

  /**
   * Discards at most {@code limit} of the parked dead letters {@code filter} selects, lowest ids
   * first, as {@link #discard(DeadLetterFilter, Attribution)} does: a selection larger than the limit
   * is discarded by calling again (the ones already discarded are no longer selected), so that no
   * single call holds one transaction over an unbounded number of rows.
   *
   * @return the ids discarded, ascending; exactly {@code limit} of them when more may remain
   * @throws InvalidRequestException if {@code limit} is not between 1 and {@value #MAX_DISCARD}, or
   *     as {@link #discard(DeadLetterFilter, Attribution)}
   */
  public List<Long> discard(DeadLetterFilter filter, Attribution who, int limit) {
    requireLimit("limit", limit, MAX_DISCARD);
    return operations.discard(filter, who, limit);
  }

  private static void requireLimit(String name, int limit, int max) {
    if (limit < 1 || limit > max) {
      throw new InvalidRequestException(name, "must be between 1 and " + max + ", was " + limit);
    }
  }

  /**
   * Registers {@value CourierMetrics#CONSUMER_DEAD_LETTER_BACKLOG} for every declared consumer and
   * for every consumer a count finds, now or later.
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    registries.add(registry);
    Set<String> known = new LinkedHashSet<>(declared);
    DeadLetterCounts last = cached.get();
    if (last != null) {
      known.addAll(last.byConsumer().keySet());
    }
    for (String consumer : known) {
      register(registry, consumer);
    }
    // find the consumers already in the table, so that their series start now; an unreadable
    // table is reported by the gauges (NaN) and by whoever counts next
    try {
      counts();
    } catch (CourierException e) {
      // the gauges stay NaN until a count succeeds
    }
  }

  private void exportNew(Collection<String> consumers) {
    List<String> fresh = new ArrayList<>();
    for (String consumer : consumers) {
      if (exported.add(consumer)) {
        fresh.add(consumer);
      }
    }
    for (String consumer : fresh) {
      for (MeterRegistry registry : registries) {
        register(registry, consumer);
      }
    }
  }

  private void register(MeterRegistry registry, String consumer) {
    exported.add(consumer);
    Gauge.builder(CourierMetrics.CONSUMER_DEAD_LETTER_BACKLOG, this, a -> a.backlog(consumer))
        .description("Consumer dead letters parked with status DEAD, waiting for an operator")
        .baseUnit("events")
        .tag("consumer", consumer)
        .register(registry);
  }

  private double backlog(String consumer) {
    DeadLetterCounts s = fresh();
    return s == null ? Double.NaN : s.byConsumer().getOrDefault(consumer, 0L);
  }

  private DeadLetterCounts fresh() {
    DeadLetterCounts s = cached.get();
    if (s == null || Duration.between(s.takenAt(), clock.instant()).compareTo(gaugeCacheTtl) > 0) {
      try {
        return counts();
      } catch (CourierException e) {
        return s;
      }
    }
    return s;
  }

  /** Builds a {@link DeadLetterAdmin}; settings are checked at {@link #build()}. */
  public static final class Builder {
    private final DataSource dataSource;
    private CourierTables tables = CourierTables.DEFAULT;
    private Clock clock = Clock.systemUTC();
    private Duration gaugeCacheTtl = Duration.ofSeconds(5);
    private final Set<String> consumers = new LinkedHashSet<>();

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    public Builder tables(CourierTables tables) {
      this.tables = Objects.requireNonNull(tables, "tables");
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** How long the gauges reuse one count (default 5 s; zero counts on every read). */
    public Builder gaugeCacheTtl(Duration gaugeCacheTtl) {
      this.gaugeCacheTtl = gaugeCacheTtl;
      return this;
    }

    /**
     * Consumers to export from the start, at 0 while they have no dead letter: the consumers this
     * process runs.
     */
    public Builder consumers(Collection<String> consumers) {
      for (String c : consumers) {
        this.consumers.add(Objects.requireNonNull(c, "consumer"));
      }
      return this;
    }

    public DeadLetterAdmin build() {
      Objects.requireNonNull(dataSource, "dataSource");
      if (gaugeCacheTtl == null || gaugeCacheTtl.isNegative()) {
        throw new ConfigurationException(
            "gaugeCacheTtl", "must be zero or a positive duration, was " + gaugeCacheTtl);
      }
      for (String c : consumers) {
        if (c.isBlank()) {
          throw new ConfigurationException("consumers", "a consumer name must not be blank");
        }
      }
      return new DeadLetterAdmin(this);
    }
  }
}
