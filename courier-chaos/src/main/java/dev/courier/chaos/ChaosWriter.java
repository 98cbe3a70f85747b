package dev.courier.chaos;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;

import javax.sql.DataSource;

import dev.courier.Event;
import dev.courier.UuidV7;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.chaos.ChaosTables;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer of a chaos run, as a child JVM: a service that commits business changes, each with its event appended to
 * the outbox in the same transaction, and rolls back a share of them.
 *
 * <p>Before each group of transactions it records the attempts it is about to make in {@value ChaosTables#ATTEMPTS}
 * (committed on their own), so that the checker knows the events of rolled-back transactions. Which attempts roll
 * back, which are poison and which key each uses are drawn from the seed, so a run can be repeated. One thread writes,
 * so a key's changes commit in the order of their {@code key_seq}. A restarted writer continues after the last
 * attempt it recorded.
 *
 * <p>Arguments: {@code jdbcUrl}, {@code applicationName}, {@code topic}, {@code attempts}, {@code seed};
 * optionally {@code rollbackPercent} (default 6), {@code poisonEvery} (default 1000), {@code keys} (default 32),
 * {@code perSecond} (default 500), {@code dbUser}.
 */
public final class ChaosWriter {

    private static final Logger LOG = LoggerFactory.getLogger(ChaosWriter.class);
    private static final int GROUP = 50;
    /** The payload that the chaos consumers' handler rejects as poison. */
    public static final String POISON = "poison";

    private ChaosWriter() {
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        String topic = args.get("topic");
        long attempts = args.getLong("attempts", 1000);
        long seed = args.getLong("seed", 1);
        long rollbackPercent = args.getLong("rollbackPercent", 6);
        long poisonEvery = args.getLong("poisonEvery", 1000);
        int keys = (int) args.getLong("keys", 32);
        long perSecond = args.getLong("perSecond", 500);
        Outbox outbox = Outbox.builder().build();
        try (var pool = args.pool(2)) {
            long next = lastAttempt(pool) + 1;
            Map<String, Long> keySeqs = keySeqs(pool);
            // the stream of choices depends only on the seed and the attempt number, so a restart draws the same
            long started = System.nanoTime();
            long done = 0;
            while (next <= attempts) {
                List<Attempt> group = new ArrayList<>();
                for (long n = next; n < next + GROUP && n <= attempts; n++) {
                    group.add(Attempt.draw(seed, n, keys, rollbackPercent, poisonEvery));
                }
                recordAttempts(pool, group);
                for (Attempt a : group) {
                    runTransaction(pool, outbox, topic, a, keySeqs);
                    done++;
                    long due = started + done * 1_000_000_000L / perSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
                next += group.size();
            }
            LOG.info("writer done: {} attempts", attempts);
        }
    }

    private record Attempt(long number, UUID eventId, String key, boolean poison, boolean commit) {
        static Attempt draw(long seed, long number, int keys, long rollbackPercent, long poisonEvery) {
            SplittableRandom random = new SplittableRandom(seed * 1_000_003L + number);
            String key = "k" + random.nextInt(keys);
            boolean poison = poisonEvery > 0 && Math.floorMod(number + seed, poisonEvery) == 0;
            // a poison event always commits, so that every 1,000 attempts hold one
            boolean commit = random.nextInt(100) >= rollbackPercent || poison;
            return new Attempt(number, UuidV7.next(), key, poison, commit);
        }
    }

    private static void recordAttempts(DataSource pool, List<Attempt> group) throws SQLException {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO "
                + ChaosTables.ATTEMPTS + " (attempt_no, event_id, event_key, poison, will_commit) VALUES (?, ?, ?, ?,"
                + " ?)")) {
            for (Attempt a : group) {
                ps.setLong(1, a.number());
                ps.setObject(2, a.eventId());
                ps.setString(3, a.key());
                ps.setBoolean(4, a.poison());
                ps.setBoolean(5, a.commit());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static void runTransaction(DataSource pool, Outbox outbox, String topic, Attempt a,
            Map<String, Long> keySeqs) throws SQLException {
        long keySeq = keySeqs.getOrDefault(a.key(), 0L) + 1;
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + ChaosTables.ORDERS
                    + " (event_id, event_key, key_seq, poison, attempt_no) VALUES (?, ?, ?, ?, ?)")) {
                ps.setObject(1, a.eventId());
                ps.setString(2, a.key());
                ps.setLong(3, keySeq);
                ps.setBoolean(4, a.poison());
                ps.setLong(5, a.number());
                ps.executeUpdate();
            }
            outbox.append(c, Event.builder("ChaosOrder").id(a.eventId()).destination(topic).key(a.key())
                    .payload(a.poison() ? POISON : "change " + keySeq + " of " + a.key())
                    .correlationId("attempt-" + a.number()));
            if (a.commit()) {
                c.commit();
                keySeqs.put(a.key(), keySeq);
            } else {
                c.rollback();
            }
        }
    }

    private static long lastAttempt(DataSource pool) throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT coalesce(max(attempt_no), 0) FROM " + ChaosTables.ATTEMPTS)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Map<String, Long> keySeqs(DataSource pool) throws SQLException {
        Map<String, Long> seqs = new HashMap<>();
        try (Connection c = pool.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT event_key, max(key_seq) FROM " + ChaosTables.ORDERS
                        + " GROUP BY event_key")) {
            while (rs.next()) {
                seqs.put(rs.getString(1), rs.getLong(2));
            }
        }
        return seqs;
    }
}
