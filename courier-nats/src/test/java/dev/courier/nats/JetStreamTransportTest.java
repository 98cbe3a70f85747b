package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Publishing to a real nats-server with JetStream: PubAcks, the dedupe window, refusals. */
class JetStreamTransportTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private TestNats nats;
  private JetStreamTransport transport;

  @BeforeEach
  void connect() {
    nats = TestNats.connect();
  }

  @AfterEach
  void close() {
    if (transport != null) {
      transport.close();
    }
    nats.close();
  }

  private JetStreamTransport.Builder builder() {
    return JetStreamTransport.builder().servers(TestNats.URL).retryHorizon(Duration.ofSeconds(30));
  }

  private static Event event(String subject) {
    return Event.builder("OrderPlaced")
        .destination(subject)
        .key("order-1")
        .payload("{\"total\":42}")
        .header("x-note", "zoë ✓")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .correlationId("corr-1")
        .causationId("cause-1")
        .build(Instant.parse("2026-01-02T03:04:05.123456Z"));
  }

  @Test
  void publish_isConfirmedWithItsStreamPosition_andCarriesTheEventInNatsHeaders() throws Exception {
    String subject = TestNats.uniqueSubject("confirmed");
    String stream = nats.trackDefault(subject);
    transport = builder().destinations(subject).build();
    Event e = event(subject);

    List<PublishResult> results = transport.publish(List.of(e), TIMEOUT);

    assertThat(results).containsExactly(new PublishResult.Confirmed(e.id(), stream + "@1", false));
    MessageInfo stored = nats.connection().jetStreamManagement().getMessage(stream, 1);
    assertThat(stored.getHeaders().getFirst(NatsHeaders.MSG_ID)).isEqualTo(e.id().toString());
    assertThat(stored.getHeaders().getFirst(NatsHeaders.EVENT_ID)).isEqualTo(e.id().toString());
    assertThat(stored.getHeaders().getFirst(NatsHeaders.EVENT_TYPE)).isEqualTo("OrderPlaced");
    assertThat(stored.getHeaders().getFirst(NatsHeaders.EVENT_KEY)).isEqualTo("order-1");
    assertThat(stored.getHeaders().getFirst(NatsHeaders.CORRELATION_ID)).isEqualTo("corr-1");
    assertThat(stored.getHeaders().getFirst(NatsHeaders.CAUSATION_ID)).isEqualTo("cause-1");
    assertThat(stored.getHeaders().getFirst(NatsHeaders.CREATED_AT))
        .isEqualTo("2026-01-02T03:04:05.123456Z");
    assertThat(stored.getHeaders().getFirst("traceparent")).startsWith("00-0af7");
    assertThat(NatsMessages.decodeValue(stored.getHeaders().getFirst("x-note"))).isEqualTo("zoë ✓");
    assertThat(new String(stored.getData())).isEqualTo("{\"total\":42}");
  }

  @Test
  void createdStream_usesFileStorageOneReplicaAndAWindowCoveringTheRetryHorizon() throws Exception {
    String subject = TestNats.uniqueSubject("created");
    String stream = nats.trackDefault(subject);
    RetryPolicy relay =
        RetryPolicy.builder().maxAttempts(4).initialDelay(Duration.ofSeconds(10)).build();
    transport =
        JetStreamTransport.builder()
            .servers(TestNats.URL)
            .retryPolicy(relay)
            .destinations(subject)
            .build();

    StreamConfiguration cfg =
        nats.connection().jetStreamManagement().getStreamInfo(stream).getConfiguration();

    assertThat(cfg.getStorageType()).isEqualTo(StorageType.File);
    assertThat(cfg.getReplicas()).isEqualTo(1);
    assertThat(cfg.getSubjects()).containsExactly(subject);
    // horizon 10s + 20s + 40s = 70s, plus a minute of slack; never below the server's 2 minutes
    assertThat(relay.horizon()).isEqualTo(Duration.ofSeconds(70));
    assertThat(cfg.getDuplicateWindow()).isEqualTo(Duration.ofMinutes(2).plusSeconds(10));
  }

  @Test
  void republishOfTheSameEventInsideTheWindow_isConfirmedAsABrokerDuplicate_andCounted()
      throws Exception {
    String subject = TestNats.uniqueSubject("dedupe");
    String stream = nats.trackDefault(subject);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    transport = builder().meterRegistry(meters).build();
    Event e = event(subject);

    PublishResult first = transport.publish(List.of(e), TIMEOUT).get(0);
    PublishResult again = transport.publish(List.of(e), TIMEOUT).get(0);

    assertThat(first).isEqualTo(new PublishResult.Confirmed(e.id(), stream + "@1", false));
    assertThat(again).isEqualTo(new PublishResult.Confirmed(e.id(), stream + "@1", true));
    assertThat(nats.messages(stream)).isEqualTo(1);
    assertThat(transport.brokerDedupeHits()).isEqualTo(1);
    assertThat(
            meters
                .get(JetStreamTransport.BROKER_DEDUPE_HITS)
                .tag("transport", "nats")
                .tag("destination", subject)
                .counter()
                .count())
        .isEqualTo(1.0);
  }

  @Test
  void
      build_refusesAnExistingStreamWhoseDuplicateWindowIsShorterThanTheRetryHorizon_namingBothDurations()
          throws Exception {
    String subject = TestNats.uniqueSubject("short-window");
    String stream = "COURIER_TEST_SHORT_" + subject.substring(subject.lastIndexOf('.') + 1);
    nats.createStream(stream, subject, Duration.ofMinutes(2));

    assertThatThrownBy(
            () ->
                JetStreamTransport.builder()
                    .servers(TestNats.URL)
                    .retryHorizon(Duration.ofMinutes(17))
                    .stream(subject, stream)
                    .destinations(subject)
                    .build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining("duplicate_window 2m is shorter than the relay's retry horizon 17m")
        .hasMessageContaining("a republish after the window is stored twice")
        .hasMessageContaining(stream)
        .hasMessageContaining("allowDuplicateWindowShorterThanRetryHorizon()");

    transport =
        JetStreamTransport.builder()
            .servers(TestNats.URL)
            .retryHorizon(Duration.ofMinutes(17))
            .stream(subject, stream)
            .destinations(subject)
            .allowDuplicateWindowShorterThanRetryHorizon()
            .build();
    assertThat(transport.ensureStream(subject)).isEqualTo(stream);
  }

  @Test
  void build_refusesToCreateAStreamWithAWindowShorterThanTheRetryHorizon() {
    String subject = TestNats.uniqueSubject("short-new");
    nats.trackDefault(subject);

    assertThatThrownBy(
            () ->
                JetStreamTransport.builder()
                    .servers(TestNats.URL)
                    .retryPolicy(RetryPolicy.defaultPolicy())
                    .duplicateWindow(Duration.ofMinutes(2))
                    .destinations(subject)
                    .build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining(
            "duplicate_window 2m is shorter than the relay's retry horizon 8m31s");
  }

  @Test
  void messageOverTheServersMaxPayload_failsNonRetriably_namingItsSizeAndTheLimit() {
    String subject = TestNats.uniqueSubject("oversized");
    nats.trackDefault(subject);
    transport = builder().build();
    Event big = Event.builder("Big").destination(subject).payload(new byte[1024 * 1024]).build();
    Event small = Event.builder("Small").destination(subject).payload("ok").build();

    List<PublishResult> results = transport.publish(List.of(big, small), TIMEOUT);

    assertThat(results.get(0))
        .isInstanceOfSatisfying(
            PublishResult.Failed.class,
            f -> {
              assertThat(f.retriable()).isFalse();
              assertThat(f.error())
                  .isInstanceOf(InvalidEventException.class)
                  .hasMessageContaining("payload 1048576")
                  .hasMessageContaining("max_payload of 1048576 bytes")
                  .hasMessageContaining(big.id().toString());
            });
    assertThat(results.get(1)).isInstanceOf(PublishResult.Confirmed.class);
  }

  @Test
  void eventsNatsCannotCarryOrThatCouldSteerTheServer_failNonRetriably() {
    String subject = TestNats.uniqueSubject("refused");
    nats.trackDefault(subject);
    transport = builder().build();
    Event expectedStream =
        Event.builder("T").destination(subject).header("Nats-Expected-Stream", "OTHER").build();
    Event reserved =
        Event.builder("T").destination(subject).header("courier-event-id", "x").build();
    Event wildcard = Event.builder("T").destination("orders.*").build();
    Event api = Event.builder("T").destination("$JS.API.STREAM.DELETE.ORDERS").build();

    List<PublishResult> results =
        transport.publish(List.of(expectedStream, reserved, wildcard, api), TIMEOUT);

    assertThat(results)
        .allSatisfy(
            r ->
                assertThat(r)
                    .isInstanceOfSatisfying(
                        PublishResult.Failed.class, f -> assertThat(f.retriable()).isFalse()));
    assertThat(((PublishResult.Failed) results.get(0)).error()).hasMessageContaining("Nats-");
    assertThat(((PublishResult.Failed) results.get(3)).error())
        .hasMessageContaining("reserved for the server's APIs");
  }

  @Test
  void subjectCapturedByAStreamCourierDidNotExpect_isRefusedRatherThanStoredElsewhere()
      throws Exception {
    String subject = TestNats.uniqueSubject("elsewhere");
    String other = "COURIER_TEST_OTHER_" + subject.substring(subject.lastIndexOf('.') + 1);
    nats.createStream(other, subject, Duration.ofMinutes(20));
    nats.trackDefault(subject);
    transport = builder().build();

    PublishResult r = transport.publish(List.of(event(subject)), TIMEOUT).get(0);

    assertThat(r)
        .isInstanceOfSatisfying(
            PublishResult.Failed.class, f -> assertThat(f.retriable()).isTrue());
    assertThat(((PublishResult.Failed) r).error()).hasMessageContaining("another stream");
    assertThat(nats.messages(other)).isZero();
  }

  @Test
  void builder_refusesMissingServersAndConflictingCredentials_namingTheSetting() {
    assertThatThrownBy(() -> JetStreamTransport.builder().build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("servers:");
    assertThatThrownBy(
            () ->
                JetStreamTransport.builder()
                    .servers(TestNats.URL)
                    .token("s3cret-token".toCharArray())
                    .userInfo("app", "s3cret-password".toCharArray())
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("credentials:")
        .hasMessageNotContaining("s3cret");
  }

  @Test
  void serverUrlsInLogsAndMessages_neverShowUserInformation() {
    assertThat(
            NatsConnections.redact(
                List.of("nats://app:s3cret@127.0.0.1:4222", "nats://127.0.0.1:4223")))
        .isEqualTo("nats://***@127.0.0.1:4222,nats://127.0.0.1:4223");
  }
}
