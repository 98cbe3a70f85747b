package dev.courier.testkit.chaos;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * What a {@link DeliveryChecker} found in one run: the counts, the anomalous events, and enough of the history to
 * reproduce and investigate a failure (the scenario, its seed, the faults injected and the full record of each
 * anomalous event).
 *
 * @param history                the history that was checked
 * @param committed              committed business changes (events that must be delivered)
 * @param rolledBack             rolled-back business transactions (events that must never appear)
 * @param poison                 committed events that the handler rejects as poison
 * @param lost                   each committed event a consumer neither applied nor (if poison) dead-lettered
 * @param unexpected             each event id found anywhere that no committed change carries
 * @param duplicatedEffects      effect rows beyond the first, over all consumers and events
 * @param duplicated             each (consumer, event) applied more than once
 * @param unexpectedDeadLetters  each committed event that is not poison and was dead-lettered
 * @param orderViolations        each effect applied after an effect of a later change of its key
 * @param keyOrderViolations     each event whose first arrival (effect or dead letter) came after a later change of its
 *                               key, per consumer
 * @param wireDuplicates         copies of events on the broker beyond the first (allowed: the ledger absorbs them)
 * @param poisonDeadLettered     poison events that ended as dead letters, as they should, over all consumers
 * @param drainTime              from the last fault's healing to the last effect, or {@code null} when not measured
 */
public record CheckReport(
        History history,
        long committed,
        long rolledBack,
        long poison,
        List<Anomaly> lost,
        List<Anomaly> unexpected,
        long duplicatedEffects,
        List<Anomaly> duplicated,
        List<Anomaly> unexpectedDeadLetters,
        List<Anomaly> orderViolations,
        List<Anomaly> keyOrderViolations,
        long wireDuplicates,
        long poisonDeadLettered,
        Duration drainTime) {

    /** How many anomalous events a report spells out in full; the counts always cover all of them. */
    public static final int MAX_LISTED = 20;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public CheckReport {
        lost = List.copyOf(lost);
        unexpected = List.copyOf(unexpected);
        duplicated = List.copyOf(duplicated);
        unexpectedDeadLetters = List.copyOf(unexpectedDeadLetters);
        orderViolations = List.copyOf(orderViolations);
        keyOrderViolations = List.copyOf(keyOrderViolations);
    }

    /**
     * One event that broke a rule.
     *
     * @param consumer the consumer concerned, or {@code null} when the anomaly is not a consumer's
     */
    public record Anomaly(String consumer, UUID eventId, String what) {
        @Override
        public String toString() {
            return (consumer == null ? "" : consumer + " ") + eventId + ": " + what;
        }
    }

    /**
     * Whether the run kept every promise: nothing lost, nothing unexpected, no duplicated effect, no unexpected
     * dead letter, no order violation where one relay promises order and no key order violation where log mode
     * promises it.
     */
    public boolean passed() {
        return lost.isEmpty() && unexpected.isEmpty() && duplicatedEffects == 0 && unexpectedDeadLetters.isEmpty()
                && (!history.ordered() || orderViolations.isEmpty())
                && (!history.keyOrdered() || keyOrderViolations.isEmpty());
    }

    /** The command-line properties that rerun this scenario with this seed. */
    public String reproduce() {
        return "-Dcourier.chaos.scenario=" + history.scenario() + " -Dcourier.chaos.seed=" + history.seed();
    }

    /** A one-screen summary; when the run failed, followed by the history of the anomalous events. */
    public String toText() {
        StringBuilder out = new StringBuilder();
        out.append(passed() ? "PASSED " : "FAILED ").append(history.scenario()).append(" (seed ")
                .append(history.seed()).append(")\n");
        out.append(String.format(
                "  committed %d, rolled back %d, poison %d; lost %d, unexpected %d, duplicated effects %d,"
                        + " unexpected dead letters %d, order violations %d%s, key order violations %d%s; wire"
                        + " duplicates %d (absorbed), poison dead-lettered %d, faults %d, drain %s%n",
                committed, rolledBack, poison, lost.size(), unexpected.size(), duplicatedEffects,
                unexpectedDeadLetters.size(), orderViolations.size(), history.ordered() ? "" : " (not promised)",
                keyOrderViolations.size(), history.keyOrdered() ? "" : " (not promised)", wireDuplicates, poisonDeadLettered, history.faults().size(),
                drainTime == null ? "not measured" : drainTime.toMillis() + " ms"));
        if (!passed()) {
            out.append("  reproduce with: ").append(reproduce()).append('\n');
            out.append("  faults:\n");
            for (History.FaultRecord fault : history.faults()) {
                out.append("    ").append(fault.at()).append(' ').append(fault.description())
                        .append(fault.healedAt() == null ? "" : ", healed " + fault.healedAt()).append('\n');
            }
            appendAnomalies(out, "lost", lost);
            appendAnomalies(out, "unexpected", unexpected);
            appendAnomalies(out, "duplicated", duplicated);
            appendAnomalies(out, "unexpected dead letters", unexpectedDeadLetters);
            if (history.ordered()) {
                appendAnomalies(out, "order violations", orderViolations);
            }
            if (history.keyOrdered()) {
                appendAnomalies(out, "key order violations (first arrivals out of write order)", keyOrderViolations);
            }
            out.append("  history of the anomalous events:\n");
            for (UUID id : anomalousEvents()) {
                out.append("    ").append(eventHistory(id)).append('\n');
            }
        }
        return out.toString();
    }

    /** The report as JSON: counts, the seed, the faults and the anomalous events with their history. */
    public String toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("scenario", history.scenario());
        json.put("seed", history.seed());
        json.put("passed", passed());
        json.put("reproduce", reproduce());
        json.put("committed", committed);
        json.put("rolledBack", rolledBack);
        json.put("poison", poison);
        json.put("lost", lost.size());
        json.put("unexpected", unexpected.size());
        json.put("duplicatedEffects", duplicatedEffects);
        json.put("unexpectedDeadLetters", unexpectedDeadLetters.size());
        json.put("orderViolations", orderViolations.size());
        json.put("orderPromised", history.ordered());
        json.put("keyOrderViolations", keyOrderViolations.size());
        json.put("keyOrderPromised", history.keyOrdered());
        json.put("wireDuplicates", wireDuplicates);
        json.put("poisonDeadLettered", poisonDeadLettered);
        json.put("drainMillis", drainTime == null ? null : drainTime.toMillis());
        json.put("faults", history.faults().stream().map(f -> {
            Map<String, Object> fault = new LinkedHashMap<>();
            fault.put("at", f.at().toString());
            fault.put("fault", f.description());
            fault.put("healedAt", f.healedAt() == null ? null : f.healedAt().toString());
            return fault;
        }).toList());
        Map<String, Object> anomalies = new LinkedHashMap<>();
        anomalies.put("lost", strings(lost));
        anomalies.put("unexpected", strings(unexpected));
        anomalies.put("duplicated", strings(duplicated));
        anomalies.put("unexpectedDeadLetters", strings(unexpectedDeadLetters));
        anomalies.put("orderViolations", strings(orderViolations));
        anomalies.put("keyOrderViolations", strings(keyOrderViolations));
        json.put("anomalies", anomalies);
        json.put("eventHistories", anomalousEvents().stream().map(this::eventHistory).toList());
        try {
            return JSON.writeValueAsString(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the report as JSON", e);
        }
    }

    @Override
    public String toString() {
        return toText();
    }

    /**
     * Everything the history says about one event: the business change or rollback, the outbox row, each
     * consumer's effects, ledger row and dead letters, and the copies on the wire.
     */
    public String eventHistory(UUID id) {
        StringBuilder out = new StringBuilder(id.toString()).append(": ");
        History.Intent intent = history.committed().stream().filter(i -> i.eventId().equals(id)).findFirst()
                .orElse(null);
        if (intent != null) {
            out.append("committed (key ").append(intent.key()).append(" #").append(intent.keySeq())
                    .append(intent.poison() ? ", poison" : "").append(')');
        } else if (history.rolledBack().contains(id)) {
            out.append("rolled back");
        } else {
            out.append("never written");
        }
        out.append("; outbox ").append(history.outbox().getOrDefault(id, "none"));
        for (String consumer : history.consumers()) {
            List<Long> effects = history.effects().stream()
                    .filter(e -> e.consumer().equals(consumer) && e.eventId().equals(id))
                    .map(History.Effect::order).toList();
            boolean ledger = history.ledger().contains(new History.LedgerRow(consumer, id));
            List<String> dead = history.deadLetters().stream()
                    .filter(d -> consumer.equals(d.consumer()) && id.equals(d.eventId()))
                    .map(History.DeadLetterRow::reason).toList();
            out.append("; ").append(consumer).append(": effects at ").append(effects).append(", ledger ")
                    .append(ledger ? "yes" : "no").append(", dead letters ").append(dead);
        }
        out.append("; wire copies ").append(history.wireCopies().getOrDefault(id, 0));
        return out.toString();
    }

    private Set<UUID> anomalousEvents() {
        Set<UUID> ids = new LinkedHashSet<>();
        Stream.of(lost, unexpected, duplicated, unexpectedDeadLetters,
                history.ordered() ? orderViolations : List.<Anomaly>of(),
                history.keyOrdered() ? keyOrderViolations : List.<Anomaly>of())
                .flatMap(List::stream).map(Anomaly::eventId).limit(MAX_LISTED).forEach(ids::add);
        return ids;
    }

    private static void appendAnomalies(StringBuilder out, String title, List<Anomaly> anomalies) {
        if (anomalies.isEmpty()) {
            return;
        }
        out.append("  ").append(title).append(" (").append(anomalies.size()).append("):\n");
        anomalies.stream().limit(MAX_LISTED).forEach(a -> out.append("    ").append(a).append('\n'));
        if (anomalies.size() > MAX_LISTED) {
            out.append("    ... and ").append(anomalies.size() - MAX_LISTED).append(" more\n");
        }
    }

    private static List<String> strings(List<Anomaly> anomalies) {
        return anomalies.stream().limit(MAX_LISTED).map(Anomaly::toString).toList();
    }
}
