package dev.courier.server.demo;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.RetriableCourierException;
import dev.courier.nats.JetStreamTransport;
import dev.courier.server.Components;
import dev.courier.server.config.CourierConfig;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.ConsumerInfo;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo on NATS JetStream: a subject named after the run, captured by a stream of its own whose
 * {@code Nats-Msg-Id} duplicate window covers the relay's retry horizon (the transport checks the
 * rule when it creates the stream), and one durable pull consumer per consumer. A connection of the
 * demo's own reads the consumers' pending counts and the stream's size, and deletes the stream
 * afterwards unless the run is kept.
 */
final class NatsDemoBroker extends DemoBroker {
  private static final Logger log = LoggerFactory.getLogger(NatsDemoBroker.class);

  /**
   * The consumers' ack wait. A crashed consumer's unacknowledged messages come back after it; the
   * default, 30 s, would make the demo wait that long after its last crash.
   */
  static final Duration ACK_WAIT = Duration.ofSeconds(2);

  private static final String HOW =
      "Start a local server with JetStream (Debian/Ubuntu: sudo apt-get install nats-server, then"
          + " nats-server -js; Docker: docker run -d -p 4222:4222 nats -js), or point the demo at"
          + " one with --nats-url nats://HOST:4222.";

  private final String shown;
  private final String subject;
  private final boolean keep;
  private final Connection admin;
  private final JetStreamTransport transport;
  private volatile String stream;

  private NatsDemoBroker(
      String shown, String subject, boolean keep, Connection admin, JetStreamTransport transport) {
    this.shown = shown;
    this.subject = subject;
    this.keep = keep;
    this.admin = admin;
    this.transport = transport;
  }

  static NatsDemoBroker open(
      String url, CourierConfig config, String runId, boolean keep, MeterRegistry registry) {
    String shown = mask(url);
    URI parsed;
    try {
      parsed = URI.create(url.contains("://") ? url : "nats://" + url);
    } catch (IllegalArgumentException e) {
      throw new ConfigurationException("--nats-url", "is not a URL like nats://127.0.0.1:4222");
    }
    if (parsed.getHost() == null) {
      throw new ConfigurationException(
          "--nats-url", "names no host; write it like nats://HOST:4222");
    }
    requireReachable(
        "NATS", parsed.getHost(), parsed.getPort() == -1 ? 4222 : parsed.getPort(), shown, HOW);
    JetStreamTransport transport;
    try {
      transport =
          Components.jetStreamTransport(
              url,
              config.nats(),
              config.relay().retryHorizon(),
              "courier-demo-" + runId,
              registry);
    } catch (ConfigurationException e) {
      throw new ConfigurationException("--nats-url", e.getMessage());
    } catch (RetriableCourierException e) {
      throw unreachable("NATS", shown, e, HOW);
    }
    try {
      Connection admin =
          Nats.connect(
              new Options.Builder()
                  .server(url)
                  .connectionName("courier-demo-admin-" + runId)
                  .connectionTimeout(CONNECT_TIMEOUT)
                  .maxReconnects(-1)
                  .build());
      return new NatsDemoBroker(shown, config.demo().topic() + "-" + runId, keep, admin, transport);
    } catch (IOException e) {
      transport.close();
      throw unreachable("NATS", shown, e, HOW);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      transport.close();
      throw new CourierException("interrupted while connecting to NATS at " + shown, e);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  /** The URL with any user information (user and password, or a token) hidden. */
  static String mask(String url) {
    int scheme = url.indexOf("://");
    int start = scheme < 0 ? 0 : scheme + 3;
    int at = url.indexOf('@', start);
    return at < 0 ? url : url.substring(0, start) + "****" + url.substring(at);
  }

  @Override
  String name() {
    return "nats";
  }

  @Override
  String description() {
    return "NATS JetStream at " + shown;
  }

  @Override
  String destination() {
    return subject;
  }

  @Override
  String destinationDescription() {
    return "subject '" + subject + "'";
  }

  @Override
  Transport transport() {
    return transport;
  }

  @Override
  String prepare(List<String> consumers) {
    stream = transport.ensureStream(subject);
    return "NATS JetStream: "
        + shown
        + ", subject "
        + subject
        + " in stream "
        + stream
        + " (duplicate window "
        + DemoReport.human(transport.duplicateWindow())
        + " covers the relay's retry horizon "
        + DemoReport.human(transport.retryHorizon())
        + "); consumers ack within "
        + DemoReport.human(ACK_WAIT)
        + (keep ? "; kept after the run" : "");
  }

  @Override
  SubscriptionSpec subscription(String consumer, int instance) {
    return SubscriptionSpec.of(subject)
        .withOption(JetStreamTransport.OPTION_ACK_WAIT, ACK_WAIT.toSeconds() + "s");
  }

  /** Messages the durable consumer has not delivered yet plus those delivered and not acked. */
  @Override
  long backlog(String consumer) {
    try {
      ConsumerInfo info = management().getConsumerInfo(stream, consumer);
      return info.getNumPending() + info.getNumAckPending();
    } catch (IOException | JetStreamApiException e) {
      throw new CourierException(
          "cannot read consumer " + consumer + " of stream " + stream + ": " + e.getMessage(), e);
    }
  }

  private JetStreamManagement management() throws IOException {
    return admin.jetStreamManagement();
  }

  @Override
  DemoReport.Wire census(Set<UUID> rolledBack, long rolledBackHandled) {
    long stored;
    try {
      stored = management().getStreamInfo(stream).getStreamState().getMsgCount();
    } catch (IOException | JetStreamApiException e) {
      throw new CourierException("cannot read stream " + stream + ": " + e.getMessage(), e);
    }
    String window = DemoReport.human(transport.duplicateWindow());
    List<String> caveats = new ArrayList<>();
    caveats.add(
        "the stream deduplicates by Nats-Msg-Id (the event id) for "
            + window
            + ", longer than the relay's retry horizon ("
            + DemoReport.human(transport.retryHorizon())
            + "): an event republished after a dropped confirmation is stored once, so the"
            + " consumers' duplicates come from redeliveries. After the window it would be stored"
            + " twice, and still applied once.");
    caveats.add(
        "no per-key order under retries: a message waiting for a retry, and the unacknowledged"
            + " messages of a crashed consumer (after the ack wait, "
            + DemoReport.human(ACK_WAIT)
            + " here, 30s by default), are redelivered behind later messages.");
    caveats.add("the run's stream has one replica: a PubAck means one server's file system.");
    return new DemoReport.Wire(
        name(),
        destinationDescription(),
        List.of(
            new DemoReport.Fact(
                "messages in the stream", DemoReport.n(stored), stream + ", one per event"),
            new DemoReport.Fact(
                "republishes the stream dropped",
                DemoReport.n(transport.brokerDedupeHits()),
                "same Nats-Msg-Id within the " + window + " window")),
        rolledBackHandled,
        "checked as the consumers received them",
        caveats);
  }

  /** Closes the transport, then deletes the run's stream (and its consumers) unless kept. */
  @Override
  public void close() {
    transport.close();
    if (!keep && stream != null) {
      try {
        management().deleteStream(stream);
        log.info("deleted stream {}", stream);
      } catch (IOException | JetStreamApiException | RuntimeException e) {
        log.warn("could not delete stream {}: {}", stream, e.toString());
      }
    }
    try {
      admin.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
