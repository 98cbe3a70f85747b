package dev.courier.testkit.chaos;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * Everything a {@link DeliveryChecker} needs to judge one run, taken from database truth after the run: what the
 * writer meant to publish and what it rolled back, what the outbox holds, what each consumer applied, recorded and
 * dead-lettered, and how many copies of each event the broker holds.
 *
 * <p>Read it from a database with {@link ChaosTables#readHistory}; tests build it by hand.
 *
 * @param scenario    the scenario's name
 * @param seed        the seed its schedule and workload were drawn from
 * @param consumers   every consumer whose effects are checked; each must apply every committed event once
 * @param committed   the business rows that committed: each is an event that must be delivered
 * @param rolledBack  event ids of business transactions that rolled back: none of them may appear anywhere
 * @param outbox      outbox status by event id ({@code PENDING}, {@code PUBLISHED}, {@code DEAD})
 * @param effects     the consumers' effect rows, in the order they were applied
 * @param ledger      the processed-events ledger
 * @param deadLetters the consumers' dead letters
 * @param wireCopies  how many records the broker holds for each event id (empty when not counted)
 * @param ordered     whether the run promises per-key order as one relay in lease or lock mode does, so that order
 *                    violations fail the run
 * @param keyOrdered  whether the run promises per-key order with any number of relays, as log mode does, so that a
 *                    key whose first arrivals leave write order fails the run (see {@link DeliveryChecker})
 * @param faults      the faults injected, in order, for the report
 * @param healedAt    when the last fault was healed, or {@code null}; drain time is measured from it
 */
public record History(
        String scenario,
        long seed,
        List<String> consumers,
        List<Intent> committed,
        Set<UUID> rolledBack,
        Map<UUID, String> outbox,
        List<Effect> effects,
        List<LedgerRow> ledger,
        List<DeadLetterRow> deadLetters,
        Map<UUID, Integer> wireCopies,
        boolean ordered,
        boolean keyOrdered,
        List<FaultRecord> faults,
        Instant healedAt) {

    public History {
        Objects.requireNonNull(scenario, "scenario");
        consumers = List.copyOf(consumers);
        committed = List.copyOf(committed);
        rolledBack = Set.copyOf(rolledBack);
        outbox = Map.copyOf(outbox);
        effects = List.copyOf(effects);
        ledger = List.copyOf(ledger);
        deadLetters = List.copyOf(deadLetters);
        wireCopies = Map.copyOf(wireCopies);
        faults = List.copyOf(faults);
    }

    /** A history whose run promises no log-mode key order ({@code keyOrdered} false). */
    public History(String scenario, long seed, List<String> consumers, List<Intent> committed, Set<UUID> rolledBack,
            Map<UUID, String> outbox, List<Effect> effects, List<LedgerRow> ledger, List<DeadLetterRow> deadLetters,
            Map<UUID, Integer> wireCopies, boolean ordered, List<FaultRecord> faults, Instant healedAt) {
        this(scenario, seed, consumers, committed, rolledBack, outbox, effects, ledger, deadLetters, wireCopies, ordered,
                false, faults, healedAt);
    }

    /**
     * A committed business change and the event it carries.
     *
     * @param keySeq the position of the change among the committed changes of its key, in commit order
     * @param poison whether the consumers' handler rejects it as poison (it must end as a dead letter, not an
     *               effect)
     */
    public record Intent(UUID eventId, String key, long keySeq, boolean poison) {
        public Intent {
            Objects.requireNonNull(eventId, "eventId");
        }
    }

    /**
     * One effect row a consumer's handler wrote.
     *
     * @param order     the row's position in the effects table (a sequence), which is the order of application
     * @param appliedAt when its transaction ran
     */
    public record Effect(String consumer, UUID eventId, long order, Instant appliedAt) {
        public Effect {
            Objects.requireNonNull(consumer, "consumer");
            Objects.requireNonNull(eventId, "eventId");
        }
    }

    /** One row of the processed-events ledger. */
    public record LedgerRow(String consumer, UUID eventId) {
    }

    /**
     * One dead letter of a consumer; {@code eventId} is {@code null} for a record that carried no usable id.
     *
     * @param firstFailedAt when the consumer began the attempt that first failed, which for a poison event is when it
     *                      arrived; {@code null} when not known
     */
    public record DeadLetterRow(String consumer, UUID eventId, String reason, Instant firstFailedAt) {
        /** A dead letter whose first failure's time is not known. */
        public DeadLetterRow(String consumer, UUID eventId, String reason) {
            this(consumer, eventId, reason, null);
        }
    }

    /** A fault injected during the run, with when it started and, if it was healed, when. */
    public record FaultRecord(Instant at, String description, Instant healedAt) {
    }
}
