package dev.courier.testkit.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class DeliveryCheckerTest {

    private static final String CONSUMER = "billing";
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    /** A clean run of six events over two keys, one consumer, every event on the wire once; tests then spoil it. */
    private final Builder run = new Builder();

    @Test
    void cleanRun_passesWithEveryCountZero() {
        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).as(report.toText()).isTrue();
        assertThat(report.committed()).isEqualTo(6);
        assertThat(report.lost()).isEmpty();
        assertThat(report.unexpected()).isEmpty();
        assertThat(report.duplicatedEffects()).isZero();
        assertThat(report.unexpectedDeadLetters()).isEmpty();
        assertThat(report.orderViolations()).isEmpty();
        assertThat(report.keyOrderViolations()).isEmpty();
        assertThat(report.wireDuplicates()).isZero();
        assertThat(report.toText()).startsWith("PASSED clean (seed 42)");
    }

    @Test
    void missingEffect_isReportedLost_andNothingElse() {
        UUID victim = run.intents.get(3).eventId();
        run.effects.removeIf(e -> e.eventId().equals(victim));
        run.ledger.removeIf(l -> l.eventId().equals(victim));

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).isFalse();
        assertThat(report.lost()).extracting(CheckReport.Anomaly::eventId).containsExactly(victim);
        assertThat(report.lost().getFirst().what()).isEqualTo("no effect");
        assertOnlyLost(report);
    }

    @Test
    void ledgerRowWithoutEffect_isLost_becauseTheEffectIsTheTruth() {
        UUID victim = run.intents.get(0).eventId();
        run.effects.removeIf(e -> e.eventId().equals(victim));
        // the ledger still says processed

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.lost()).extracting(CheckReport.Anomaly::what).containsExactly("in the ledger but no effect");
        assertOnlyLost(report);
    }

    @Test
    void eventOfARolledBackTransaction_anywhere_isUnexpected() {
        UUID phantom = UUID.randomUUID();
        run.rolledBack.add(phantom);
        run.outbox.put(phantom, "PUBLISHED");
        run.effect(phantom);

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).isFalse();
        assertThat(report.unexpected()).singleElement().satisfies(a -> {
            assertThat(a.eventId()).isEqualTo(phantom);
            assertThat(a.what()).isEqualTo("event of a rolled-back transaction");
        });
        assertThat(report.lost()).isEmpty();
        assertThat(report.duplicatedEffects()).isZero();
        assertThat(report.rolledBack()).isEqualTo(1);
    }

    @Test
    void eventOnlyOnTheWire_thatNobodyCommitted_isUnexpected() {
        UUID stranger = UUID.randomUUID();
        run.wire.put(stranger, 1);

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.unexpected()).extracting(CheckReport.Anomaly::what).containsExactly("event nobody committed");
        assertThat(report.passed()).isFalse();
    }

    @Test
    void secondEffectOfOneEvent_isADuplicatedEffect_andNothingElse() {
        UUID twice = run.intents.get(2).eventId();
        run.effect(twice);
        run.effect(twice);

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).isFalse();
        assertThat(report.duplicatedEffects()).isEqualTo(2);
        assertThat(report.duplicated()).singleElement().satisfies(a -> assertThat(a.what()).isEqualTo("3 effects"));
        assertThat(report.lost()).isEmpty();
        assertThat(report.unexpected()).isEmpty();
    }

    @Test
    void wireDuplicates_areCountedButAllowed() {
        run.wire.put(run.intents.get(1).eventId(), 3);
        run.wire.put(run.intents.get(4).eventId(), 2);

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).as(report.toText()).isTrue();
        assertThat(report.wireDuplicates()).isEqualTo(3);
    }

    @Test
    void laterChangeOfAKeyAppliedFirst_isAnOrderViolation_failingOnlyWhereOrderIsPromised() {
        // key a: #1 #2 #3 applied as #1 #3 #2
        run.effects.clear();
        run.effect(run.intents.get(0).eventId());
        run.effect(run.intents.get(2).eventId());
        run.effect(run.intents.get(1).eventId());
        run.effect(run.intents.get(3).eventId());
        run.effect(run.intents.get(4).eventId());
        run.effect(run.intents.get(5).eventId());

        CheckReport unordered = DeliveryChecker.check(run.build());
        run.ordered = true;
        CheckReport ordered = DeliveryChecker.check(run.build());

        assertThat(unordered.orderViolations()).hasSize(1);
        assertThat(unordered.passed()).as("order not promised").isTrue();
        assertThat(ordered.passed()).isFalse();
        assertThat(ordered.orderViolations()).singleElement().satisfies(a -> {
            assertThat(a.eventId()).isEqualTo(run.intents.get(1).eventId());
            assertThat(a.what()).startsWith("change 2 of key a applied after change 3");
        });
    }

    @Test
    void redeliveredDuplicateOfAnEarlierChange_isNotAnOrderViolation_sinceOnlyFirstApplicationsCount() {
        run.ordered = true;
        run.effect(run.intents.get(0).eventId());

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.orderViolations()).isEmpty();
        assertThat(report.duplicatedEffects()).isEqualTo(1);
    }

    @Test
    void laterChangeOfAKeyArrivingFirst_isAKeyOrderViolation_namingTheKeyAndBothEvents_failingOnlyInLogMode()
            throws Exception {
        // key b: #1 #2 #3 first arrive as #2 #1 #3; key a stays in order
        run.effects.clear();
        run.effect(run.intents.get(0).eventId());
        run.effect(run.intents.get(4).eventId());
        run.effect(run.intents.get(1).eventId());
        run.effect(run.intents.get(3).eventId());
        run.effect(run.intents.get(2).eventId());
        run.effect(run.intents.get(5).eventId());

        CheckReport notPromised = DeliveryChecker.check(run.build());
        run.keyOrdered = true;
        CheckReport promised = DeliveryChecker.check(run.build());

        assertThat(notPromised.keyOrderViolations()).hasSize(1);
        assertThat(notPromised.passed()).as("key order not promised").isTrue();
        assertThat(promised.passed()).isFalse();
        UUID second = run.intents.get(4).eventId();
        assertThat(promised.keyOrderViolations()).singleElement().satisfies(a -> {
            assertThat(a.consumer()).isEqualTo(CONSUMER);
            assertThat(a.eventId()).isEqualTo(run.intents.get(3).eventId());
            assertThat(a.what()).startsWith("key b: change 1 first arrived at ")
                    .contains("after change 2 (" + second + ") at ");
        });
        assertThat(promised.toText()).contains("key order violations 1;")
                .contains("key order violations (first arrivals out of write order) (1):")
                .contains(run.intents.get(3).eventId() + ": committed (key b #1)");
        JsonNode json = new ObjectMapper().readTree(promised.toJson());
        assertThat(json.get("keyOrderViolations").asInt()).isEqualTo(1);
        assertThat(json.get("keyOrderPromised").asBoolean()).isTrue();
        assertThat(json.get("anomalies").get("keyOrderViolations").get(0).asText()).contains("key b: change 1");
    }

    @Test
    void poisonEventDeadLetteredAfterALaterChangeOfItsKey_isAKeyOrderViolation_whichTheEffectOrderCheckCannotSee() {
        // key b gets a poison change #4 that is dead-lettered after #5 was applied
        UUID poison = run.addIntent("b", true);
        UUID fifth = run.addIntent("b", false);
        run.effect(fifth);
        run.deadLetters.add(new History.DeadLetterRow(CONSUMER, poison, "POISON", T0.plusSeconds(100)));
        run.ordered = true;
        run.keyOrdered = true;

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.orderViolations()).as("effects alone are in order").isEmpty();
        assertThat(report.keyOrderViolations()).singleElement().satisfies(a -> {
            assertThat(a.eventId()).isEqualTo(poison);
            assertThat(a.what()).startsWith("key b: change 4 (dead-lettered) first arrived at")
                    .contains("after change 5 (" + fifth + ")");
        });
        assertThat(report.passed()).isFalse();
    }

    @Test
    void poisonEventDeadLetteredInItsPlace_andRedeliveredDuplicates_keepTheKeyOrder() {
        UUID poison = run.addIntent("b", true);
        // dead-lettered after #3 of key b (applied at T0 + 6 s), before #5
        run.deadLetters.add(new History.DeadLetterRow(CONSUMER, poison, "POISON", T0.plusMillis(6_500)));
        run.effect(run.addIntent("b", false));
        // a redelivered copy of an earlier change is applied again: a duplicate, not a first arrival
        run.effect(run.intents.get(3).eventId());
        run.keyOrdered = true;

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.keyOrderViolations()).isEmpty();
        assertThat(report.duplicatedEffects()).isEqualTo(1);
    }

    @Test
    void poisonEvent_deadLettered_passes_butAPoisonEventWithNeitherOutcomeIsLost() {
        UUID poison = run.addIntent("b", true);
        run.deadLetters.add(new History.DeadLetterRow(CONSUMER, poison, "POISON"));
        CheckReport handled = DeliveryChecker.check(run.build());
        assertThat(handled.passed()).as(handled.toText()).isTrue();
        assertThat(handled.poisonDeadLettered()).isEqualTo(1);

        run.deadLetters.clear();
        CheckReport dropped = DeliveryChecker.check(run.build());
        assertThat(dropped.lost()).extracting(CheckReport.Anomaly::what)
                .containsExactly("poison event neither applied nor dead-lettered");
    }

    @Test
    void ordinaryEventDeadLettered_isAnUnexpectedDeadLetter_notALoss() {
        UUID victim = run.intents.get(5).eventId();
        run.effects.removeIf(e -> e.eventId().equals(victim));
        run.deadLetters.add(new History.DeadLetterRow(CONSUMER, victim, "HANDLER_FAILED"));

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.passed()).isFalse();
        assertThat(report.unexpectedDeadLetters()).extracting(CheckReport.Anomaly::what)
                .containsExactly("dead-lettered, not poison");
        assertThat(report.lost()).isEmpty();
    }

    @Test
    void everyConsumer_mustApplyEveryEvent() {
        run.consumers.add("shipping");

        CheckReport report = DeliveryChecker.check(run.build());

        assertThat(report.lost()).hasSize(6).allSatisfy(a -> assertThat(a.consumer()).isEqualTo("shipping"));
    }

    @Test
    void drainTime_runsFromTheHealingToTheLastEffect() {
        run.healedAt = T0.plusMillis(2_000);

        CheckReport report = DeliveryChecker.check(run.build());

        // the last of the six effects is applied at T0 + 6 s
        assertThat(report.drainTime()).isEqualTo(Duration.ofMillis(4_000));
    }

    @Test
    void failedReport_printsTheSeed_theFaults_andTheHistoryOfEachAnomalousEvent_inTextAndJson() throws Exception {
        UUID victim = run.intents.get(3).eventId();
        run.effects.removeIf(e -> e.eventId().equals(victim));
        run.outbox.put(victim, "DEAD");
        run.faults.add(new History.FaultRecord(T0.plusMillis(500), "relay killed (SIGKILL) at 40%", null));

        CheckReport report = DeliveryChecker.check(run.build());
        String text = report.toText();

        assertThat(text).startsWith("FAILED clean (seed 42)")
                .contains("reproduce with: -Dcourier.chaos.scenario=clean -Dcourier.chaos.seed=42")
                .contains("relay killed (SIGKILL) at 40%")
                .contains(victim + ": committed (key b #1); outbox DEAD; billing: effects at [], ledger yes,"
                        + " dead letters []; wire copies 1");
        JsonNode json = new ObjectMapper().readTree(report.toJson());
        assertThat(json.get("passed").asBoolean()).isFalse();
        assertThat(json.get("seed").asLong()).isEqualTo(42);
        assertThat(json.get("lost").asInt()).isEqualTo(1);
        assertThat(json.get("faults").get(0).get("fault").asText()).isEqualTo("relay killed (SIGKILL) at 40%");
        assertThat(json.get("eventHistories").get(0).asText()).startsWith(victim + ": committed");
    }

    private static void assertOnlyLost(CheckReport report) {
        assertThat(report.unexpected()).isEmpty();
        assertThat(report.duplicatedEffects()).isZero();
        assertThat(report.unexpectedDeadLetters()).isEmpty();
        assertThat(report.orderViolations()).isEmpty();
        assertThat(report.keyOrderViolations()).isEmpty();
        assertThat(report.wireDuplicates()).isZero();
    }

    /** A mutable history: three changes of key a, three of key b, each applied once in commit order. */
    private static final class Builder {
        final List<String> consumers = new ArrayList<>(List.of(CONSUMER));
        final List<History.Intent> intents = new ArrayList<>();
        final Set<UUID> rolledBack = new HashSet<>();
        final Map<UUID, String> outbox = new HashMap<>();
        final List<History.Effect> effects = new ArrayList<>();
        final List<History.LedgerRow> ledger = new ArrayList<>();
        final List<History.DeadLetterRow> deadLetters = new ArrayList<>();
        final Map<UUID, Integer> wire = new HashMap<>();
        final List<History.FaultRecord> faults = new ArrayList<>();
        final Map<String, Long> keySeqs = new HashMap<>();
        boolean ordered;
        boolean keyOrdered;
        Instant healedAt;
        long nextOrder = 1;

        Builder() {
            for (String key : List.of("a", "a", "a", "b", "b", "b")) {
                UUID id = addIntent(key, false);
                effect(id);
                ledger.add(new History.LedgerRow(CONSUMER, id));
            }
        }

        UUID addIntent(String key, boolean poison) {
            UUID id = UUID.randomUUID();
            long seq = keySeqs.merge(key, 1L, Long::sum);
            intents.add(new History.Intent(id, key, seq, poison));
            outbox.put(id, "PUBLISHED");
            wire.put(id, 1);
            return id;
        }

        void effect(UUID id) {
            long order = nextOrder++;
            effects.add(new History.Effect(CONSUMER, id, order, T0.plusSeconds(order)));
        }

        History build() {
            return new History("clean", 42, consumers, intents, rolledBack, outbox, effects, ledger, deadLetters,
                    wire, ordered, keyOrdered, faults, healedAt);
        }
    }
}
