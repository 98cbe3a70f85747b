package dev.courier.nats;

import static dev.courier.nats.JetStreamTransport.OPTION_ACK_WAIT;
import static dev.courier.nats.JetStreamTransport.OPTION_BACKOFF;
import static dev.courier.nats.JetStreamTransport.OPTION_BATCH_SIZE;
import static dev.courier.nats.JetStreamTransport.OPTION_DURABLE;
import static dev.courier.nats.JetStreamTransport.OPTION_MAX_ACK_PENDING;
import static dev.courier.nats.JetStreamTransport.OPTION_MAX_DELIVER;

import dev.courier.ConfigurationException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.Durations;
import dev.courier.spi.SubscriptionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A subscription's consumer settings, read from {@link SubscriptionSpec#options()} and checked
 * once, before anything is created on the server.
 *
 * @param durable the durable consumer's name
 * @param ackWait how long the server waits for an ack before redelivering
 * @param maxDeliver the most deliveries of one message; never unlimited
 * @param backoff the redelivery schedule after expired ack waits; empty for none
 * @param batchSize messages one pull request asks for
 * @param maxAckPending the most unacknowledged messages the server hands out
 */
record ConsumerSettings(
    String durable,
    Duration ackWait,
    long maxDeliver,
    List<Duration> backoff,
    int batchSize,
    long maxAckPending) {

  static final Duration DEFAULT_ACK_WAIT = Duration.ofSeconds(30);
  static final int DEFAULT_BATCH_SIZE = 10;
  static final int MAX_BATCH_SIZE = 256;
  static final long DEFAULT_MAX_ACK_PENDING = 1000;
  static final int AUTO_BACKOFF_STEPS = 5;
  static final Duration AUTO_BACKOFF_CAP = Duration.ofMinutes(5);

  private static final Set<String> KNOWN =
      Set.of(
          OPTION_ACK_WAIT,
          OPTION_MAX_DELIVER,
          OPTION_BACKOFF,
          OPTION_BATCH_SIZE,
          OPTION_MAX_ACK_PENDING,
          OPTION_DURABLE);
  private static final Pattern DURABLE = Pattern.compile("[A-Za-z0-9_-]{1,255}");

  /** The interval of in-progress acks for deliveries in hand: a third of the ack wait. */
  Duration heartbeat() {
    return ackWait.dividedBy(3);
  }

  /**
   * Reads and checks the options.
   *
   * @param backoffSupported whether the server accepts a backoff list
   * @throws ConfigurationException naming the option and the rule it breaks
   */
  static ConsumerSettings from(
      SubscriptionSpec spec, IdempotentProcessor processor, boolean backoffSupported) {
    Map<String, String> o = spec.options();
    for (String key : o.keySet()) {
      if (!KNOWN.contains(key)) {
        throw new ConfigurationException(
            key, "is not a JetStream subscription option; known options: " + KNOWN);
      }
    }
    String durable = o.getOrDefault(OPTION_DURABLE, processor.consumer());
    if (!DURABLE.matcher(durable).matches()) {
      throw new ConfigurationException(
          o.containsKey(OPTION_DURABLE) ? OPTION_DURABLE : "consumer",
          "'"
              + NatsMessages.printable(durable)
              + "' cannot name a JetStream durable consumer: use 1 to 255 letters, digits, '_' or"
              + " '-' ('.' is not allowed), or set the subscription option "
              + OPTION_DURABLE);
    }

    int maxAttempts = processor.retryPolicy().maxAttempts();
    long maxDeliver = (long) maxAttempts + JetStreamTransport.DEFAULT_MAX_DELIVER_MARGIN;
    if (o.containsKey(OPTION_MAX_DELIVER)) {
      maxDeliver = integer(OPTION_MAX_DELIVER, o.get(OPTION_MAX_DELIVER));
      if (maxDeliver < 1) {
        throw new ConfigurationException(
            OPTION_MAX_DELIVER,
            "must be a positive number, was "
                + maxDeliver
                + ": an unlimited MaxDeliver redelivers a poison message forever");
      }
      if (maxDeliver < maxAttempts) {
        throw new ConfigurationException(
            OPTION_MAX_DELIVER,
            "must be >= the processor's maxAttempts ("
                + maxAttempts
                + "), was "
                + maxDeliver
                + ": the server would stop delivering an event the processor still means to retry,"
                + " and it would never reach the dead-letter table");
      }
    }

    Duration ackWait = null;
    if (o.containsKey(OPTION_ACK_WAIT)) {
      ackWait = Durations.parse(OPTION_ACK_WAIT, o.get(OPTION_ACK_WAIT));
      checkAckWait(OPTION_ACK_WAIT, ackWait);
    }

    List<Duration> backoff = new ArrayList<>();
    String backoffText = o.getOrDefault(OPTION_BACKOFF, "auto").trim().toLowerCase(Locale.ROOT);
    if (!backoffText.equals("auto") && !backoffText.equals("none")) {
      for (String part : backoffText.split(",")) {
        Duration d = Durations.parse(OPTION_BACKOFF, part);
        checkAckWait(OPTION_BACKOFF, d);
        backoff.add(d);
      }
      if (!backoffSupported) {
        throw new ConfigurationException(
            OPTION_BACKOFF,
            "the server is older than "
                + JetStreamTransport.BACKOFF_MIN_SERVER
                + " and accepts no backoff list; use none");
      }
      // The server takes the first step as the ack wait; two different values would be a lie.
      if (ackWait != null && !ackWait.equals(backoff.get(0))) {
        throw new ConfigurationException(
            OPTION_BACKOFF,
            "its first step ("
                + DurationText.format(backoff.get(0))
                + ") must equal ackWait ("
                + DurationText.format(ackWait)
                + "): the server uses the first step as the ack wait");
      }
      ackWait = backoff.get(0);
    }
    if (ackWait == null) {
      ackWait = DEFAULT_ACK_WAIT;
    }
    if (backoffText.equals("auto") && backoffSupported) {
      Duration step = ackWait;
      Duration cap = ackWait.compareTo(AUTO_BACKOFF_CAP) > 0 ? ackWait : AUTO_BACKOFF_CAP;
      for (int i = 0; i < AUTO_BACKOFF_STEPS && i < maxDeliver - 1; i++) {
        backoff.add(step);
        step = step.multipliedBy(2);
        if (step.compareTo(cap) > 0) {
          step = cap;
        }
      }
    }
    if (!backoff.isEmpty() && backoff.size() >= maxDeliver) {
      throw new ConfigurationException(
          OPTION_BACKOFF,
          "has "
              + backoff.size()
              + " steps; the server requires fewer steps than maxDeliver ("
              + maxDeliver
              + ")");
    }

    int batchSize = DEFAULT_BATCH_SIZE;
    if (o.containsKey(OPTION_BATCH_SIZE)) {
      long b = integer(OPTION_BATCH_SIZE, o.get(OPTION_BATCH_SIZE));
      if (b < 1 || b > MAX_BATCH_SIZE) {
        throw new ConfigurationException(
            OPTION_BATCH_SIZE, "must be between 1 and " + MAX_BATCH_SIZE + ", was " + b);
      }
      batchSize = (int) b;
    }
    long maxAckPending = DEFAULT_MAX_ACK_PENDING;
    if (o.containsKey(OPTION_MAX_ACK_PENDING)) {
      maxAckPending = integer(OPTION_MAX_ACK_PENDING, o.get(OPTION_MAX_ACK_PENDING));
    }
    if (maxAckPending < batchSize) {
      throw new ConfigurationException(
          OPTION_MAX_ACK_PENDING,
          "must be >= " + OPTION_BATCH_SIZE + " (" + batchSize + "), was " + maxAckPending);
    }
    return new ConsumerSettings(
        durable, ackWait, maxDeliver, List.copyOf(backoff), batchSize, maxAckPending);
  }

  private static void checkAckWait(String option, Duration d) {
    if (d.compareTo(Duration.ofSeconds(1)) < 0 || d.compareTo(Duration.ofHours(12)) > 0) {
      throw new ConfigurationException(
          option, "must be between 1s and 12h, was " + DurationText.format(d));
    }
  }

  private static long integer(String option, String text) {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      throw new ConfigurationException(option, "must be an integer, was '" + text + "'");
    }
  }
}
