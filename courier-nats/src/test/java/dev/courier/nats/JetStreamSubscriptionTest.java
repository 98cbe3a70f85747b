package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.testkit.OutageDataSource;
import dev.courier.testkit.RecordingThreadFactory;
import dev.courier.testkit.TestClock;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.impl.Headers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Consuming from a real nats-server into a real PostgreSQL: acks after commit, redelivery and the
 * ledger, in-progress acks, terminated poison, the duplicate window's limits.
 */
class JetStreamSubscriptionTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static Ledger ledger;

  private TestNats nats;
  private JetStreamTransport transport;
  private final List<Subscription> subscriptions = new ArrayList<>();

  @BeforeAll
  static void database() {
    ledger = new Ledger("nats_consumer");
  }

  @AfterAll
  static void dropDatabase() {
    ledger.close();
  }

  @BeforeEach
  void connect() {
    nats = TestNats.connect();
    transport =
        JetStreamTransport.builder()
            .servers(TestNats.URL)
            .retryHorizon(Duration.ofSeconds(30))
            .build();
  }

  @AfterEach
  void close() {
    subscriptions.forEach(Subscription::close);
    transport.close();
    nats.close();
  }

  /** A subject with its stream tracked for deletion. */
  private String subject(String prefix) {
    String s = TestNats.uniqueSubject(prefix);
    nats.trackDefault(s);
    return s;
  }

  private static String consumerName(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static SubscriptionSpec spec(String subject, String ackWait) {
    return SubscriptionSpec.of(subject).withOption(JetStreamTransport.OPTION_ACK_WAIT, ackWait);
  }

  private Subscription subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    Subscription s = transport.subscribe(spec, processor);
    subscriptions.add(s);
    return s;
  }

  private List<Event> publish(String subject, String... types) {
    List<Event> events = new ArrayList<>();
    for (String type : types) {
      events.add(Event.builder(type).destination(subject).key("k").payload(type).build());
    }
    List<PublishResult> results = transport.publish(events, TIMEOUT);
    assertThat(results).allMatch(r -> r instanceof PublishResult.Confirmed);
    return events;
  }

  @Test
  void publishedEvents_areAppliedOnce_withKeyHeadersAndPayloadIntact() {
    String subject = subject("applied");
    String name = consumerName("applied");
    Event e =
        Event.builder("OrderPlaced")
            .destination(subject)
            .key("order-7")
            .payload("body")
            .header("x-note", "zoë ✓")
            .build();
    transport.publish(List.of(e), TIMEOUT);

    subscribe(SubscriptionSpec.of(subject), ledger.processor(name, Ledger.recording(name)));

    await().atMost(WAIT).until(() -> ledger.effects(e.id()) == 1);
    assertThat(ledger.column(e.id(), "event_key")).isEqualTo("order-7");
    assertThat(ledger.column(e.id(), "body")).isEqualTo("body");
    assertThat(ledger.column(e.id(), "header")).isEqualTo("zoë ✓");
  }

  @Test
  void crashBetweenCommitAndAck_redeliversTheEvent_andTheLedgerDedupesIt() throws Exception {
    String subject = subject("crash");
    String name = consumerName("crash");
    List<Event> events = publish(subject, "First", "Second");
    IdempotentProcessor processor = ledger.processor(name, Ledger.recording(name));
    AtomicBoolean crashOnce = new AtomicBoolean(true);

    Subscription doomed =
        subscribe(
            spec(subject, "2s")
                .withAfterCommit(
                    e -> {
                      if (crashOnce.getAndSet(false)) {
                        throw new SubscriptionSpec.SimulatedCrash("killed between commit and ack");
                      }
                    }),
            processor);
    await().atMost(WAIT).until(() -> !doomed.isRunning());
    assertThat(doomed.state()).isEqualTo(Subscription.State.CRASHED);
    assertThat(doomed.failure())
        .hasValueSatisfying(
            t ->
                assertThat(t)
                    .isInstanceOf(SubscriptionSpec.SimulatedCrash.class)
                    .hasMessage("killed between commit and ack"));
    assertThat(ledger.effects(events.get(0).id()))
        .as("the effect committed before the crash")
        .isEqualTo(1);

    subscribe(spec(subject, "2s"), processor);

    await()
        .atMost(WAIT)
        .until(() -> ledger.effects(events.get(1).id()) == 1 && ledger.dedupeHits(name) == 1);
    assertThat(ledger.effects(events.get(0).id())).isEqualTo(1);
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumAckPending() == 0);
  }

  @Test
  void handlerSlowerThanTheAckWait_isNotRedeliveredToAnotherInstance_thanksToInProgressAcks()
      throws Exception {
    String subject = subject("slow");
    String name = consumerName("slow");
    AtomicInteger calls = new AtomicInteger();
    IdempotentProcessor processor =
        ledger.processor(
            name,
            (event, c) -> {
              calls.incrementAndGet();
              Thread.sleep(5_000); // 2.5 times the ack wait
              Ledger.record(name, event, c);
            });
    // Two instances of one consumer: the idle one has a pull request waiting, so a message whose
    // ack wait expired would be redelivered to it at once.
    Subscription one = subscribe(spec(subject, "2s"), processor);
    Subscription two = subscribe(spec(subject, "2s"), processor);
    Event e = publish(subject, "Slow").get(0);

    await().atMost(WAIT).until(() -> ledger.effects(e.id()) == 1);
    Thread.sleep(2_500); // longer than the ack wait: a redelivery would show up by now
    ConsumerInfo info = nats.consumer(transport.ensureStream(subject), name);
    assertThat(info.getRedelivered()).isZero();
    assertThat(info.getNumAckPending()).isZero();
    assertThat(one.received() + two.received()).as("deliveries").isEqualTo(1);
    assertThat(calls).hasValue(1);
    assertThat(ledger.dedupeHits(name)).isZero();
  }

  @Test
  void poisonEvent_isDeadLetteredAndTerminated_andTheStreamGoesOn() throws Exception {
    String subject = subject("poison");
    String name = consumerName("poison");
    List<Event> events = publish(subject, "Poison", "Healthy");
    IdempotentProcessor processor =
        ledger.processor(
            name,
            (event, c) -> {
              if (event.type().equals("Poison")) {
                throw new PoisonEventException("refers to an unknown customer");
              }
              Ledger.record(name, event, c);
            });

    Subscription s = subscribe(spec(subject, "2s"), processor);

    await().atMost(WAIT).until(() -> ledger.effects(events.get(1).id()) == 1);
    await()
        .atMost(WAIT)
        .until(() -> "POISON".equals(ledger.deadLetterReason(name, events.get(0).id())));
    Thread.sleep(2_500); // longer than the ack wait: an unterminated message would come back
    ConsumerInfo info = nats.consumer(transport.ensureStream(subject), name);
    assertThat(info.getNumAckPending()).isZero();
    assertThat(info.getRedelivered()).isZero();
    assertThat(s.received()).isEqualTo(2);
    assertThat(ledger.effects(events.get(0).id())).isZero();
  }

  @Test
  void malformedMessage_isDeadLetteredAndTerminated_andTheStreamGoesOn() throws Exception {
    String subject = subject("malformed");
    String name = consumerName("malformed");
    transport.ensureStream(subject);
    Headers noId = new Headers().put(NatsHeaders.EVENT_TYPE, "Orphan");
    nats.connection().jetStream().publish(subject, noId, "no id".getBytes());
    Event healthy = publish(subject, "Healthy").get(0);

    subscribe(spec(subject, "2s"), ledger.processor(name, Ledger.recording(name)));

    await().atMost(WAIT).until(() -> ledger.effects(healthy.id()) == 1);
    await().atMost(WAIT).until(() -> "MALFORMED".equals(ledger.deadLetterReason(name, null)));
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumAckPending() == 0);
  }

  /**
   * A transport given a clock and a thread factory hands both to its subscriptions: a message from
   * another producer, without a creation time, is dated by the clock, and the pull loop and the
   * in-progress acks run on threads from the factory.
   */
  @Test
  void transportsClockAndThreads_dateAMessageWithoutCreationTime_andRunTheSubscription() throws Exception {
    String subject = subject("injected");
    String name = consumerName("injected");
    Instant standing = Instant.parse("2031-03-01T12:00:00Z");
    RecordingThreadFactory threads = RecordingThreadFactory.virtual();
    List<Instant> createdAt = new CopyOnWriteArrayList<>();
    List<Thread> handledOn = new CopyOnWriteArrayList<>();
    UUID id = UUID.randomUUID();
    try (JetStreamTransport injected =
        JetStreamTransport.builder()
            .servers(TestNats.URL)
            .retryHorizon(Duration.ofSeconds(30))
            .clock(TestClock.at(standing))
            .threadFactory(threads)
            .build()) {
      injected.ensureStream(subject);
      nats.connection()
          .jetStream()
          .publish(
              subject,
              new Headers().put(NatsHeaders.EVENT_ID, id.toString()).put(NatsHeaders.EVENT_TYPE, "FromElsewhere"),
              "no creation time".getBytes());

      Subscription subscription =
          injected.subscribe(
              SubscriptionSpec.of(subject),
              ledger.processor(
                  name,
                  (event, c) -> {
                    createdAt.add(event.createdAt());
                    handledOn.add(Thread.currentThread());
                    Ledger.record(name, event, c);
                  }));
      await().atMost(WAIT).until(() -> ledger.effects(id) == 1);
      subscription.close();
    }

    assertThat(createdAt).containsExactly(standing);
    assertThat(handledOn)
        .singleElement()
        .satisfies(t -> assertThat(threads.made(t)).isTrue())
        .extracting(Thread::getName)
        .isEqualTo("courier-nats-consumer-" + name);
    assertThat(threads.names())
        .containsExactlyInAnyOrder("courier-nats-consumer-" + name, "courier-nats-in-progress-" + name);
  }

  @Test
  void malformedAndOversizedMessages_areDeadLetteredWithTheirReasonAndError_andTheEventsAroundThemAreApplied()
      throws Exception {
    String subject = subject("bad-input");
    String name = consumerName("bad-input");
    transport.ensureStream(subject);
    Event before = publish(subject, "Before").get(0);
    io.nats.client.JetStream js = nats.connection().jetStream();
    js.publish(subject, new Headers().put(NatsHeaders.EVENT_TYPE, "Orphan"), "no id".getBytes());
    js.publish(
        subject,
        new Headers().put(NatsHeaders.EVENT_ID, "not-a-uuid").put(NatsHeaders.EVENT_TYPE, "Forged"),
        "bad id".getBytes());
    js.publish(subject, new Headers().put(NatsHeaders.EVENT_ID, UUID.randomUUID().toString()), "no type".getBytes());
    UUID bigId = UUID.randomUUID();
    js.publish(
        subject,
        new Headers().put(NatsHeaders.EVENT_ID, bigId.toString()).put(NatsHeaders.EVENT_TYPE, "Huge"),
        new byte[4096]);
    js.publish(subject, null, "not Courier's at all".getBytes());
    Event after = publish(subject, "After").get(0);

    subscribe(spec(subject, "2s").withMaxRecordBytes(1024), ledger.processor(name, Ledger.recording(name)));

    await().atMost(WAIT).until(() -> ledger.effects(after.id()) == 1 && ledger.deadLetters(name) == 5);
    assertThat(ledger.effects(before.id())).isEqualTo(1);
    java.util.List<java.util.Map<String, Object>> dead =
        dev.courier.testkit.SqlRows.rows(
            ledger.dataSource(),
            "SELECT reason, error_message, source FROM courier_dead_letters WHERE consumer = ? ORDER BY id",
            name);
    assertThat(dead).extracting(d -> d.get("reason"))
        .containsExactly("MALFORMED", "MALFORMED", "MALFORMED", "OVERSIZED", "MALFORMED");
    assertThat(dead).allSatisfy(d -> {
      assertThat((String) d.get("error_message")).isNotBlank();
      assertThat((String) d.get("source")).isNotBlank();
    });
    assertThat(ledger.deadLetterReason(name, bigId)).isEqualTo("OVERSIZED");
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumAckPending() == 0);
  }

  @Test
  void eachMessage_isHandledAsItArrives_notOnceItsPullRequestIsServedInFull() throws Exception {
    String subject = subject("arrival");
    String name = consumerName("arrival");
    // a pull request asks for 10 messages and stays open 20 s: a consumer that waited for a full
    // batch would apply nothing of these three for 20 s
    SubscriptionSpec spec =
        new SubscriptionSpec(subject, 1 << 20, Duration.ofSeconds(20), null, java.util.Map.of())
            .withOption(JetStreamTransport.OPTION_BATCH_SIZE, "10");
    subscribe(spec, ledger.processor(name, Ledger.recording(name)));
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumWaiting() > 0);

    for (String type : List.of("First", "Second", "Third")) {
      Event e = publish(subject, type).getFirst();
      long published = System.nanoTime();
      await().atMost(WAIT).until(() -> ledger.effects(e.id()) == 1);
      assertThat(Duration.ofNanos(System.nanoTime() - published))
          .as("%s applied while its pull request was still open", type)
          .isLessThan(Duration.ofSeconds(5));
    }
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumAckPending() == 0);
  }

  @Test
  void failingHandler_isRetriedThroughADelayedNak_andAppliedOnce() throws Exception {
    String subject = subject("retry");
    String name = consumerName("retry");
    Event e = publish(subject, "Flaky").get(0);
    AtomicInteger calls = new AtomicInteger();
    IdempotentProcessor processor =
        ledger.processor(
            name,
            (event, c) -> {
              Ledger.record(name, event, c); // rolled back by the throw below
              if (calls.incrementAndGet() < 3) {
                throw new IllegalStateException("downstream unavailable");
              }
            });

    subscribe(spec(subject, "2s"), processor);

    await().atMost(WAIT).until(() -> ledger.effects(e.id()) == 1);
    assertThat(calls).hasValue(3);
    assertThat(ledger.deadLetters(name)).isZero();
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(transport.ensureStream(subject), name).getNumAckPending() == 0);
  }

  @Test
  void
      databaseOutageOnTheLastAllowedDelivery_holdsTheMessageUntilTheDatabaseIsBack_andLosesNothing()
          throws Exception {
    String subject = subject("outage");
    String name = consumerName("outage");
    OutageDataSource db = new OutageDataSource(ledger.dataSource());
    IdempotentProcessor processor =
        IdempotentProcessor.builder(name, db, Ledger.recording(name))
            .retryPolicy(dev.courier.retry.RetryPolicy.builder().maxAttempts(1).build())
            .build();
    db.down(true);
    Event e = publish(subject, "DuringOutage").get(0);

    // maxDeliver 2: the first delivery is nak'd, the second and last one must be held, not dropped.
    subscribe(
        spec(subject, "2s").withOption(JetStreamTransport.OPTION_MAX_DELIVER, "2"), processor);
    String stream = transport.ensureStream(subject);
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(stream, name).getDelivered().getConsumerSequence() >= 2);
    Thread.sleep(
        2_500); // past the ack wait: the held delivery stays in hand thanks to in-progress acks
    assertThat(ledger.effects(e.id())).isZero();

    db.down(false);

    await().atMost(WAIT).until(() -> ledger.effects(e.id()) == 1);
    await().atMost(WAIT).until(() -> nats.consumer(stream, name).getNumAckPending() == 0);
    assertThat(ledger.deadLetters(name)).isZero();
  }

  /**
   * Deliveries that failed for want of a database are not attempts, also once the event's own
   * retries have begun: the handler fails twice and succeeds on the processor's third and last
   * attempt, which is the third delivery after the outage. Counting the outage's deliveries would
   * have made the second failure the last attempt and dead-lettered the event.
   */
  @Test
  void databaseOutage_usesUpNoAttempt_evenOnceTheEventsOwnRetriesHaveBegun() throws Exception {
    String subject = subject("outage-attempts");
    String name = consumerName("outage-attempts");
    OutageDataSource db = new OutageDataSource(ledger.dataSource());
    AtomicInteger calls = new AtomicInteger();
    IdempotentProcessor processor =
        IdempotentProcessor.builder(
                name,
                db,
                (event, c) -> {
                  if (calls.incrementAndGet() <= 2) {
                    throw new IllegalStateException("downstream unavailable");
                  }
                  Ledger.record(name, event, c);
                })
            .retryPolicy(Ledger.FAST_RETRIES)
            .build();
    db.down(true);
    Event e = publish(subject, "AfterOutage").get(0);

    // No BackOff list: with one, nats-server 2.9 was seen to redeliver a nak'd message well after
    // the nak's delay from the second redelivery on (2.7 s, 6 s, 15 s), longer than needed here.
    subscribe(
        spec(subject, "2s").withOption(JetStreamTransport.OPTION_BACKOFF, "none"), processor);
    String stream = transport.ensureStream(subject);
    await()
        .atMost(WAIT)
        .until(() -> nats.consumer(stream, name).getDelivered().getConsumerSequence() >= 2);
    db.down(false);

    await()
        .atMost(WAIT)
        .until(() -> ledger.effects(e.id()) == 1 || ledger.deadLetters(name) > 0);
    assertThat(ledger.deadLetters(name)).as("dead letters").isZero();
    assertThat(ledger.effects(e.id())).isEqualTo(1);
    assertThat(calls).hasValue(3);
    await().atMost(WAIT).until(() -> nats.consumer(stream, name).getNumAckPending() == 0);
  }

  /**
   * Known failure mode: duplicates after the broker's dedupe window has expired. Guards: the
   * consumer's ledger. The broker's {@code Nats-Msg-Id} dedupe covers only its window; a republish
   * after it (a relay down longer than the window, an operator retry) is stored a second time, as
   * this test shows, and only the ledger keeps it to one effect.
   */
  @Test
  @Tag("known-failure-mode")
  @DisplayName("known failure mode: duplicates after the broker's dedupe window has expired (JetStream)")
  void
      republishAfterTheDuplicateWindowExpired_isStoredTwiceByTheBroker_butAppliedOnceThroughTheLedger()
          throws Exception {
    String subject = subject("window");
    String name = consumerName("window");
    try (JetStreamTransport shortWindow =
        JetStreamTransport.builder()
            .servers(TestNats.URL)
            .retryHorizon(Duration.ofMinutes(1))
            .duplicateWindow(Duration.ofSeconds(2))
            .allowDuplicateWindowShorterThanRetryHorizon()
            .destinations(subject)
            .build()) {
      String stream = shortWindow.ensureStream(subject);
      Event e = Event.builder("Windowed").destination(subject).payload("once").build();
      assertThat(shortWindow.publish(List.of(e), TIMEOUT).get(0))
          .isEqualTo(new PublishResult.Confirmed(e.id(), stream + "@1", false));

      // Republish until the server has forgotten the id; inside the window each try is a duplicate.
      long deadline = System.nanoTime() + WAIT.toNanos();
      PublishResult again;
      do {
        Thread.sleep(500);
        again = shortWindow.publish(List.of(e), TIMEOUT).get(0);
      } while (again instanceof PublishResult.Confirmed c
          && c.brokerDuplicate()
          && System.nanoTime() < deadline);
      assertThat(again).isEqualTo(new PublishResult.Confirmed(e.id(), stream + "@2", false));
      assertThat(nats.messages(stream)).as("the broker stored the event twice").isEqualTo(2);

      shortWindow.subscribe(spec(subject, "2s"), ledger.processor(name, Ledger.recording(name)));

      await().atMost(WAIT).until(() -> ledger.dedupeHits(name) == 1);
      assertThat(ledger.effects(e.id())).as("one effect").isEqualTo(1);
      await().atMost(WAIT).until(() -> nats.consumer(stream, name).getNumAckPending() == 0);
    }
  }

  @Test
  void durableConsumer_hasABoundedMaxDeliverAndABackOffStartingAtTheAckWait() throws Exception {
    String subject = subject("limits");
    String name = consumerName("limits");
    subscribe(spec(subject, "3s"), ledger.processor(name, Ledger.recording(name)));

    ConsumerConfiguration cc =
        nats.consumer(transport.ensureStream(subject), name).getConsumerConfiguration();

    assertThat(cc.getMaxDeliver()).as("processor attempts + margin").isEqualTo(3 + 5);
    assertThat(cc.getAckWait()).isEqualTo(Duration.ofSeconds(3));
    assertThat(cc.getBackoff())
        .containsExactly(
            Duration.ofSeconds(3),
            Duration.ofSeconds(6),
            Duration.ofSeconds(12),
            Duration.ofSeconds(24),
            Duration.ofSeconds(48));
    assertThat(cc.getFilterSubject()).isEqualTo(subject);
  }

  @Test
  void unlimitedOrTooSmallMaxDeliver_isRefused_namingTheOption() {
    String subject = subject("refused");
    IdempotentProcessor processor = ledger.processor("refused", Ledger.recording("refused"));

    assertThatThrownBy(
            () ->
                transport.subscribe(
                    SubscriptionSpec.of(subject).withOption("maxDeliver", "-1"), processor))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("maxDeliver:")
        .hasMessageContaining("poison message forever");
    assertThatThrownBy(
            () ->
                transport.subscribe(
                    SubscriptionSpec.of(subject).withOption("maxDeliver", "2"), processor))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("maxAttempts (3)");
    assertThatThrownBy(
            () ->
                transport.subscribe(
                    SubscriptionSpec.of(subject).withOption("ackwait", "2s"), processor))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("ackwait:");
    assertThatThrownBy(
            () ->
                transport.subscribe(
                    SubscriptionSpec.of(subject)
                        .withOption("ackWait", "2s")
                        .withOption("backoff", "5s,10s"),
                    processor))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("backoff:");
  }

  @Test
  void consumerNameWithADot_isRefusedRatherThanSilentlyRenamed() {
    String subject = subject("dotted");
    IdempotentProcessor processor = ledger.processor("billing.v2", Ledger.recording("billing.v2"));

    assertThatThrownBy(() -> transport.subscribe(SubscriptionSpec.of(subject), processor))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("consumer:")
        .hasMessageContaining("durable");
    Subscription s =
        subscribe(SubscriptionSpec.of(subject).withOption("durable", "billing-v2"), processor);
    assertThat(s.isRunning()).isTrue();
  }

  @Test
  void close_stopsGracefully_andCrash_stopsAtOnce() {
    String subject = subject("lifecycle");
    String name = consumerName("lifecycle");
    Subscription graceful =
        transport.subscribe(
            SubscriptionSpec.of(subject), ledger.processor(name, Ledger.recording(name)));
    Subscription killed =
        transport.subscribe(
            SubscriptionSpec.of(subject), ledger.processor(name, Ledger.recording(name)));

    assertThat(graceful.state()).isEqualTo(Subscription.State.RUNNING);
    assertThat(graceful.isRunning()).isTrue();

    graceful.close();
    killed.crash();

    assertThat(graceful.isRunning()).isFalse();
    assertThat(graceful.state()).isEqualTo(Subscription.State.STOPPED);
    assertThat(graceful.failure()).isEmpty();
    assertThat(killed.isRunning()).isFalse();
    assertThat(killed.state()).isEqualTo(Subscription.State.CRASHED);
    assertThat(killed.failure()).get().isInstanceOf(SubscriptionSpec.SimulatedCrash.class);
    graceful.close();
    killed.crash();
    graceful.crash();
    killed.close();
    assertThat(graceful.state())
        .as("a crash after the stop changes nothing")
        .isEqualTo(Subscription.State.STOPPED);
    assertThat(killed.state())
        .as("a close after the crash changes nothing")
        .isEqualTo(Subscription.State.CRASHED);
  }
}
