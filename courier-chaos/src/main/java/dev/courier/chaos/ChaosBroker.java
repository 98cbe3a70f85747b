package dev.courier.chaos;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.courier.testkit.chaos.FaultProxy;

/**
 * The broker side of a chaos run, for one transport: what a scenario needs to know about the broker and do to it,
 * without knowing which broker it is.
 *
 * <p>A broker prepares a destination before the run (a topic, an exchange with the consumers' queues, a stream),
 * hands the child JVMs the arguments that connect them to it (directly or through a {@link FaultProxy}), counts the
 * copies of each event it holds for the checker, and can be restarted hard. Implementations: {@link KafkaBroker},
 * {@link RabbitMqBroker}, {@link NatsBroker}.
 */
interface ChaosBroker extends AutoCloseable {

    /** The transport's name, as the children's {@code transport=} argument: {@code kafka}, {@code rabbitmq}, {@code nats}. */
    String transport();

    /** Creates the destination and, where the broker needs them before publishing, the consumers' queues. */
    void createDestination(String destination, List<String> consumers);

    /** Deletes what {@link #createDestination} made; never fails the run. */
    void deleteDestination(String destination, List<String> consumers);

    /**
     * The children's arguments that connect them to the broker, through {@code proxy} if it is not {@code null} (it
     * must have been made by {@link #proxy()}).
     */
    List<String> clientArgs(FaultProxy proxy);

    /**
     * A fault proxy in front of the broker, for the client-to-broker link.
     *
     * @throws UnsupportedOperationException if clients cannot be routed through one (Kafka clients follow the
     *     broker's advertised listener, which names the broker's own port)
     */
    FaultProxy proxy() throws IOException;

    /** Copies of each event id the broker holds for {@code destination}, read after the run. */
    Map<UUID, Integer> wireCopies(String destination);

    /** What {@link #restart} does to this broker, for the report. */
    String describeRestart(Duration down);

    /**
     * Takes the broker down hard for {@code down}, then starts it again and waits until it serves; the broker is
     * running again when this returns, also when it throws.
     */
    void restart(Duration down);

    /** Whether {@link #pause()} is supported. */
    default boolean canPause() {
        return false;
    }

    /** Freezes the broker process (SIGSTOP). */
    default void pause() {
        throw new UnsupportedOperationException(transport() + " broker cannot be paused here");
    }

    /** Undoes {@link #pause()}. */
    default void resume() {
        throw new UnsupportedOperationException(transport() + " broker cannot be paused here");
    }

    /** Undoes any pause left behind by a failed scenario. */
    default void heal() {
    }

    @Override
    void close();
}
