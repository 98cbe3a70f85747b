package dev.courier.testkit.chaos;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Judges a run from its {@link History}, as Jepsen's queue checker judges a queue: by comparing what was meant with
 * what happened, event by event, rather than by trusting any component's own counters.
 *
 * <p>For every consumer it finds:
 *
 * <ul>
 *   <li><b>lost</b>: a committed event without an effect (or, for a poison event, without a dead letter), or with a
 *       ledger row but no effect;</li>
 *   <li><b>unexpected</b>: an event id found in the outbox, an effect, the ledger, a dead letter or on the wire that
 *       belongs to no committed business change (a rolled-back transaction's event, or one nobody wrote);</li>
 *   <li><b>duplicated effects</b>: each effect row beyond the first for one consumer and event;</li>
 *   <li><b>unexpected dead letters</b>: a committed event that is not poison but was dead-lettered (visible, so
 *       not counted as lost, but a failure of the run all the same);</li>
 *   <li><b>order violations</b> (counted always, failing only when {@link History#ordered()}, the promise of one
 *       relay in lease or lock mode): an effect applied after an effect of a later change of the same key;</li>
 *   <li><b>key order violations</b> (counted always, failing only when {@link History#keyOrdered()}, the promise of
 *       log mode with any number of relays): per consumer and key, the first arrival of each event, in the order the
 *       consumer received them, must follow the key's write order ({@link History.Intent#keySeq()}, which is the
 *       key's commit and append order). An event arrives when it is applied (its first effect row, placed by its
 *       {@link History.Effect#appliedAt()}) or when it is dead-lettered (a poison event, placed by
 *       {@link History.DeadLetterRow#firstFailedAt()}); unlike the order check above, poison events take their place
 *       in their key's sequence. Each event that arrives after a later change of its key is one violation, naming
 *       the key, its change number and the later change it came after;</li>
 *   <li><b>wire duplicates</b>, counted and allowed: copies of an event on the broker beyond the first, which the
 *       ledger must absorb;</li>
 *   <li><b>drain time</b>: from {@link History#healedAt()} to the last effect.</li>
 * </ul>
 *
 * <p>The checker is a pure function of its input and is thread-safe.
 */
public final class DeliveryChecker {

    private DeliveryChecker() {
    }

    /** Checks a history and returns the report; never throws for anomalies, which are in the report. */
    public static CheckReport check(History h) {
        Map<UUID, History.Intent> intents = new LinkedHashMap<>();
        for (History.Intent intent : h.committed()) {
            intents.put(intent.eventId(), intent);
        }

        Set<UUID> unexpected = new TreeSet<>();
        h.outbox().keySet().stream().filter(id -> !intents.containsKey(id)).forEach(unexpected::add);
        h.effects().stream().map(History.Effect::eventId).filter(id -> !intents.containsKey(id))
                .forEach(unexpected::add);
        h.ledger().stream().map(History.LedgerRow::eventId).filter(id -> !intents.containsKey(id))
                .forEach(unexpected::add);
        h.deadLetters().stream().map(History.DeadLetterRow::eventId)
                .filter(id -> id != null && !intents.containsKey(id)).forEach(unexpected::add);
        h.wireCopies().keySet().stream().filter(id -> !intents.containsKey(id)).forEach(unexpected::add);

        Map<String, Map<UUID, List<History.Effect>>> effectsByConsumer = new HashMap<>();
        for (History.Effect effect : h.effects()) {
            effectsByConsumer.computeIfAbsent(effect.consumer(), c -> new HashMap<>())
                    .computeIfAbsent(effect.eventId(), e -> new ArrayList<>()).add(effect);
        }
        Map<String, Set<UUID>> ledgerByConsumer = new HashMap<>();
        for (History.LedgerRow row : h.ledger()) {
            ledgerByConsumer.computeIfAbsent(row.consumer(), c -> new HashSet<>()).add(row.eventId());
        }
        Map<String, Set<UUID>> deadByConsumer = new HashMap<>();
        for (History.DeadLetterRow row : h.deadLetters()) {
            if (row.eventId() != null) {
                deadByConsumer.computeIfAbsent(row.consumer(), c -> new HashSet<>()).add(row.eventId());
            }
        }

        List<CheckReport.Anomaly> lost = new ArrayList<>();
        List<CheckReport.Anomaly> duplicated = new ArrayList<>();
        List<CheckReport.Anomaly> unexpectedDead = new ArrayList<>();
        List<CheckReport.Anomaly> orderViolations = new ArrayList<>();
        List<CheckReport.Anomaly> keyOrderViolations = new ArrayList<>();
        long poisonDeadLettered = 0;
        long duplicatedEffects = 0;
        for (String consumer : h.consumers()) {
            Map<UUID, List<History.Effect>> effects = effectsByConsumer.getOrDefault(consumer, Map.of());
            Set<UUID> ledger = ledgerByConsumer.getOrDefault(consumer, Set.of());
            Set<UUID> dead = deadByConsumer.getOrDefault(consumer, Set.of());
            for (History.Intent intent : intents.values()) {
                UUID id = intent.eventId();
                int applied = effects.getOrDefault(id, List.of()).size();
                if (intent.poison()) {
                    if (dead.contains(id)) {
                        poisonDeadLettered++;
                    } else if (applied == 0) {
                        lost.add(new CheckReport.Anomaly(consumer, id, "poison event neither applied nor"
                                + " dead-lettered"));
                    }
                } else {
                    if (applied == 0 && !dead.contains(id)) {
                        lost.add(new CheckReport.Anomaly(consumer, id, ledger.contains(id)
                                ? "in the ledger but no effect" : "no effect"));
                    }
                    if (dead.contains(id)) {
                        unexpectedDead.add(new CheckReport.Anomaly(consumer, id, applied > 0
                                ? "dead-lettered although applied" : "dead-lettered, not poison"));
                    }
                }
                if (applied > 1) {
                    duplicatedEffects += applied - 1;
                    duplicated.add(new CheckReport.Anomaly(consumer, id, applied + " effects"));
                }
            }
            orderViolations.addAll(orderViolations(consumer, effects, intents));
            keyOrderViolations.addAll(keyOrderViolations(consumer, effects, h.deadLetters(), intents));
        }

        long wireDuplicates = 0;
        for (Map.Entry<UUID, Integer> copies : h.wireCopies().entrySet()) {
            if (intents.containsKey(copies.getKey())) {
                wireDuplicates += Math.max(0, copies.getValue() - 1);
            }
        }

        Duration drain = null;
        if (h.healedAt() != null) {
            Instant last = h.effects().stream().map(History.Effect::appliedAt).filter(t -> t != null)
                    .max(Comparator.naturalOrder()).orElse(h.healedAt());
            drain = last.isAfter(h.healedAt()) ? Duration.between(h.healedAt(), last) : Duration.ZERO;
        }

        List<CheckReport.Anomaly> unexpectedAnomalies = new ArrayList<>();
        for (UUID id : unexpected) {
            unexpectedAnomalies.add(new CheckReport.Anomaly(null, id,
                    h.rolledBack().contains(id) ? "event of a rolled-back transaction" : "event nobody committed"));
        }
        long poisonIntents = intents.values().stream().filter(History.Intent::poison).count();
        return new CheckReport(h, intents.size(), h.rolledBack().size(), poisonIntents, lost, unexpectedAnomalies,
                duplicatedEffects, duplicated, unexpectedDead, orderViolations, keyOrderViolations, wireDuplicates,
                poisonDeadLettered, drain);
    }

    private static List<CheckReport.Anomaly> orderViolations(String consumer, Map<UUID, List<History.Effect>> effects,
            Map<UUID, History.Intent> intents) {
        // the first application of each event, in the order of application
        List<History.Effect> firsts = new ArrayList<>();
        for (List<History.Effect> perEvent : effects.values()) {
            perEvent.stream().min(Comparator.comparingLong(History.Effect::order)).ifPresent(firsts::add);
        }
        firsts.sort(Comparator.comparingLong(History.Effect::order));
        Map<String, History.Intent> latestByKey = new HashMap<>();
        List<CheckReport.Anomaly> violations = new ArrayList<>();
        for (History.Effect effect : firsts) {
            History.Intent intent = intents.get(effect.eventId());
            if (intent == null || intent.key() == null) {
                continue;
            }
            History.Intent latest = latestByKey.get(intent.key());
            if (latest != null && latest.keySeq() > intent.keySeq()) {
                violations.add(new CheckReport.Anomaly(consumer, intent.eventId(), "change " + intent.keySeq()
                        + " of key " + intent.key() + " applied after change " + latest.keySeq() + " ("
                        + latest.eventId() + ")"));
            } else {
                latestByKey.put(intent.key(), intent);
            }
        }
        return violations;
    }

    /** One event's first arrival at a consumer: its first effect, or its dead letter. */
    private record Arrival(History.Intent intent, Instant at, long order, boolean deadLettered) {
    }

    private static final Comparator<Arrival> ARRIVAL_ORDER = Comparator.comparing(Arrival::at)
            .thenComparingLong(Arrival::order);

    private static List<CheckReport.Anomaly> keyOrderViolations(String consumer,
            Map<UUID, List<History.Effect>> effects, List<History.DeadLetterRow> deadLetters,
            Map<UUID, History.Intent> intents) {
        Map<String, List<Arrival>> byKey = new HashMap<>();
        Set<UUID> arrived = new HashSet<>();
        for (List<History.Effect> perEvent : effects.values()) {
            History.Effect first = perEvent.stream().min(Comparator.comparingLong(History.Effect::order)).orElseThrow();
            History.Intent intent = intents.get(first.eventId());
            if (intent == null || intent.key() == null || first.appliedAt() == null) {
                continue;
            }
            arrived.add(intent.eventId());
            byKey.computeIfAbsent(intent.key(), k -> new ArrayList<>())
                    .add(new Arrival(intent, first.appliedAt(), first.order(), false));
        }
        for (History.DeadLetterRow dead : deadLetters) {
            History.Intent intent = dead.eventId() == null ? null : intents.get(dead.eventId());
            // an event both applied and dead-lettered is reported elsewhere; its effect is its arrival here
            if (!consumer.equals(dead.consumer()) || intent == null || intent.key() == null
                    || dead.firstFailedAt() == null || !arrived.add(intent.eventId())) {
                continue;
            }
            byKey.computeIfAbsent(intent.key(), k -> new ArrayList<>())
                    .add(new Arrival(intent, dead.firstFailedAt(), Long.MAX_VALUE, true));
        }
        List<CheckReport.Anomaly> violations = new ArrayList<>();
        for (Map.Entry<String, List<Arrival>> key : new TreeMap<>(byKey).entrySet()) {
            List<Arrival> arrivals = key.getValue();
            arrivals.sort(ARRIVAL_ORDER);
            Arrival latest = null;
            for (Arrival a : arrivals) {
                if (latest != null && latest.intent().keySeq() > a.intent().keySeq()) {
                    violations.add(new CheckReport.Anomaly(consumer, a.intent().eventId(), "key " + key.getKey()
                            + ": change " + a.intent().keySeq() + (a.deadLettered() ? " (dead-lettered)" : "")
                            + " first arrived at " + a.at() + ", after change " + latest.intent().keySeq() + " ("
                            + latest.intent().eventId() + (latest.deadLettered() ? ", dead-lettered" : "")
                            + ") at " + latest.at()));
                } else {
                    latest = a;
                }
            }
        }
        return violations;
    }
}
