package dev.courier.testkit.chaos;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import javax.sql.DataSource;

import dev.courier.jdbc.CourierTables;

/**
 * The tables in which a chaos run leaves its database truth, next to Courier's own, and the query that turns them
 * into a {@link History}.
 *
 * <ul>
 *   <li>{@value #ATTEMPTS}: every business transaction the writer began, written and committed on its own before
 *       the transaction, so that rolled-back ones are known;</li>
 *   <li>{@value #ORDERS}: the business rows, one per committed transaction, committed with the outbox row of the
 *       event they carry; {@code key_seq} numbers a key's committed changes in commit order;</li>
 *   <li>{@value #EFFECTS}: the consumers' effects, one row per application, in the handler's transaction. It has no
 *       unique key on purpose: a double effect must show up as two rows, not be hidden by a constraint.</li>
 * </ul>
 */
public final class ChaosTables {

    /** Business transactions begun by the writer. */
    public static final String ATTEMPTS = "chaos_attempts";
    /** Committed business rows. */
    public static final String ORDERS = "chaos_orders";
    /** Consumers' effects. */
    public static final String EFFECTS = "chaos_effects";

    private ChaosTables() {
    }

    /** Creates the three tables (Courier's own are made by {@code Schema.migrate}). */
    public static void create(DataSource dataSource) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS " + ATTEMPTS + " (attempt_no BIGINT PRIMARY KEY, event_id UUID NOT"
                    + " NULL UNIQUE, event_key VARCHAR(255) NOT NULL, poison BOOLEAN NOT NULL, will_commit BOOLEAN"
                    + " NOT NULL)");
            s.execute("CREATE TABLE IF NOT EXISTS " + ORDERS + " (event_id UUID PRIMARY KEY, event_key VARCHAR(255)"
                    + " NOT NULL, key_seq BIGINT NOT NULL, poison BOOLEAN NOT NULL, attempt_no BIGINT NOT NULL,"
                    + " UNIQUE (event_key, key_seq))");
            s.execute("CREATE TABLE IF NOT EXISTS " + EFFECTS + " (id BIGSERIAL PRIMARY KEY, consumer VARCHAR(255) NOT"
                    + " NULL, event_id UUID NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create the chaos tables: " + e.getMessage(), e);
        }
    }

    /**
     * Inserts one effect row on the handler's connection, inside its transaction.
     *
     * @throws SQLException as the handler must see it
     */
    public static void recordEffect(Connection handlerConnection, String consumer, UUID eventId) throws SQLException {
        try (PreparedStatement ps = handlerConnection.prepareStatement(
                "INSERT INTO " + EFFECTS + " (consumer, event_id) VALUES (?, ?)")) {
            ps.setString(1, consumer);
            ps.setObject(2, eventId);
            ps.executeUpdate();
        }
    }

    /** How many business rows have committed so far. */
    public static long committedCount(DataSource dataSource) {
        return count(dataSource, "SELECT count(*) FROM " + ORDERS);
    }

    /** How many effect rows of a consumer exist, duplicates included. */
    public static long effectCount(DataSource dataSource, String consumer) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + EFFECTS + " WHERE consumer = ?")) {
            ps.setString(1, consumer);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot count the effects of " + consumer + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the history of a run from the database: business rows, rolled-back attempts, the outbox (with its
     * archive of pruned rows left out: a run must not prune), effects, the ledger and dead letters.
     *
     * @param wireCopies copies of each event id on the broker, counted by the caller (may be empty)
     * @param ordered    whether one relay's per-key order is promised ({@link History#ordered()})
     * @param keyOrdered whether log mode's per-key order is promised ({@link History#keyOrdered()})
     */
    public static History readHistory(DataSource dataSource, CourierTables tables, String scenario, long seed,
            List<String> consumers, Map<UUID, Integer> wireCopies, boolean ordered, boolean keyOrdered,
            List<History.FaultRecord> faults, Instant healedAt) {
        List<History.Intent> committed = new ArrayList<>();
        Set<UUID> rolledBack = new HashSet<>();
        Map<UUID, String> outbox = new HashMap<>();
        List<History.Effect> effects = new ArrayList<>();
        List<History.LedgerRow> ledger = new ArrayList<>();
        List<History.DeadLetterRow> deadLetters = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            c.setReadOnly(true);
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            query(c, "SELECT event_id, event_key, key_seq, poison FROM " + ORDERS, rs -> committed.add(
                    new History.Intent(rs.getObject(1, UUID.class), rs.getString(2), rs.getLong(3),
                            rs.getBoolean(4))));
            query(c, "SELECT a.event_id FROM " + ATTEMPTS + " a WHERE NOT EXISTS (SELECT 1 FROM " + ORDERS
                    + " o WHERE o.event_id = a.event_id)", rs -> rolledBack.add(rs.getObject(1, UUID.class)));
            query(c, "SELECT event_id, status FROM " + tables.outbox(), rs -> outbox.put(rs.getObject(1, UUID.class),
                    rs.getString(2)));
            query(c, "SELECT consumer, event_id, id, applied_at FROM " + EFFECTS + " ORDER BY id", rs -> effects.add(
                    new History.Effect(rs.getString(1), rs.getObject(2, UUID.class), rs.getLong(3),
                            toInstant(rs.getTimestamp(4)))));
            query(c, "SELECT consumer, event_id FROM " + tables.processedEvents(), rs -> ledger.add(
                    new History.LedgerRow(rs.getString(1), rs.getObject(2, UUID.class))));
            query(c, "SELECT consumer, event_id, reason, first_failed_at FROM " + tables.deadLetters()
                    + " ORDER BY id", rs -> deadLetters.add(new History.DeadLetterRow(rs.getString(1),
                            rs.getObject(2, UUID.class), rs.getString(3), toInstant(rs.getTimestamp(4)))));
            c.commit();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the history of " + scenario + ": " + e.getMessage(), e);
        }
        return new History(scenario, seed, consumers, committed, rolledBack, outbox, effects, ledger, deadLetters,
                wireCopies, ordered, keyOrdered, faults, healedAt);
    }

    private interface RowReader {
        void read(ResultSet rs) throws SQLException;
    }

    private static void query(Connection c, String sql, RowReader reader) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                reader.read(rs);
            }
        }
    }

    private static long count(DataSource dataSource, String sql) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot run " + sql + ": " + e.getMessage(), e);
        }
    }

    private static Instant toInstant(Timestamp timestamp) {
        return timestamp == null ? null : timestamp.toInstant();
    }
}
