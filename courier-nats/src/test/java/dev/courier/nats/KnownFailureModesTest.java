package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.courier.Event;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Failure modes of JetStream consumers, each shown twice on the real nats-server and PostgreSQL:
 * first the unprotected way fails (the contrast), then Courier's way does not. The table in {@code
 * docs/RELIABILITY.md} ("Known failure modes") lists them with the other transports' tests; the
 * duplicate-window case is {@code
 * JetStreamSubscriptionTest.republishAfterTheDuplicateWindowExpired_isStoredTwiceByTheBroker_butAppliedOnceThroughTheLedger}.
 */
@Tag("known-failure-mode")
class KnownFailureModesTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static Ledger ledger;

  private TestNats nats;
  private JetStreamTransport transport;
  private final List<Subscription> subscriptions = new ArrayList<>();

  @BeforeAll
  static void database() {
    ledger = new Ledger("known_failures_nats");
  }

  @AfterAll
  static void dropDatabase() {
    ledger.close();
  }

  @BeforeEach
  void connect() {
    nats = TestNats.connect();
    transport = JetStreamTransport.builder().servers(TestNats.URL).retryHorizon(Duration.ofSeconds(30)).build();
  }

  @AfterEach
  void close() {
    subscriptions.forEach(Subscription::close);
    transport.close();
    nats.close();
  }

  /**
   * Guards: {@code PullSubscription} sends in-progress acks while a handler runs, so the server's
   * AckWait restarts and the message is not handed out again. Without it: a handler slower than
   * the AckWait sees its message redelivered while it is still working on it (to itself or to
   * another instance), again after every AckWait: a redelivery storm that multiplies the load of
   * exactly the slow messages.
   */
  @Test
  @DisplayName("known failure mode: JetStream redelivery storms when AckWait is shorter than processing")
  void handlerSlowerThanTheAckWait_isRedeliveredWithoutInProgressAcks_butDeliveredOnceByCourier() throws Exception {
    String subject = TestNats.uniqueSubject("kfm-ackwait");
    nats.trackDefault(subject);
    String stream = transport.ensureStream(subject);
    Event event = Event.builder("Slow").destination(subject).key("k").payload("takes 3 s").build();
    assertThat(transport.publish(List.of(event), TIMEOUT)).allMatch(r -> r instanceof PublishResult.Confirmed);

    // the contrast: a plain pull consumer with a 1 s AckWait, working 3.5 s without telling the server
    String plain = "kfm-plain-" + UUID.randomUUID().toString().substring(0, 8);
    JetStreamSubscription sub =
        nats.connection()
            .jetStream()
            .subscribe(
                subject,
                PullSubscribeOptions.builder()
                    .durable(plain)
                    .configuration(
                        ConsumerConfiguration.builder().ackPolicy(AckPolicy.Explicit).ackWait(Duration.ofSeconds(1)).build())
                    .build());
    List<Message> first = sub.fetch(1, Duration.ofSeconds(5));
    assertThat(first).hasSize(1);
    Thread.sleep(3_500); // still "processing"
    List<Message> again = sub.fetch(1, Duration.ofSeconds(5));
    assertThat(again).as("the message is handed out again while the first delivery is in hand").hasSize(1);
    assertThat(again.getFirst().metaData().deliveredCount()).isGreaterThanOrEqualTo(2);
    again.getFirst().ack();
    first.getFirst().ack();
    sub.unsubscribe();

    // Courier: the same AckWait and the same slow handler, two instances ready to take a redelivery
    String name = "kfm-ackwait-" + UUID.randomUUID().toString().substring(0, 8);
    AtomicInteger calls = new AtomicInteger();
    IdempotentProcessor processor =
        ledger.processor(
            name,
            (e, c) -> {
              calls.incrementAndGet();
              Thread.sleep(3_500);
              Ledger.record(name, e, c);
            });
    SubscriptionSpec spec = SubscriptionSpec.of(subject).withOption(JetStreamTransport.OPTION_ACK_WAIT, "1s");
    Subscription one = subscribe(spec, processor);
    Subscription two = subscribe(spec, processor);

    await().atMost(WAIT).until(() -> ledger.effects(event.id()) == 1);
    Thread.sleep(1_500); // past the AckWait once more: a late redelivery would show by now
    ConsumerInfo info = nats.consumer(stream, name);
    assertThat(info.getRedelivered()).isZero();
    assertThat(info.getNumAckPending()).isZero();
    assertThat(one.received() + two.received()).as("deliveries").isEqualTo(1);
    assertThat(calls).hasValue(1);
  }

  private Subscription subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    Subscription s = transport.subscribe(spec, processor);
    subscriptions.add(s);
    return s;
  }
}
