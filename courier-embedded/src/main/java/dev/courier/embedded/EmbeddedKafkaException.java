package dev.courier.embedded;

import java.io.Serial;

/**
 * An embedded Kafka broker could not be set up, started, stopped or asked to do something. The message carries the
 * end of the broker's log where that explains the failure.
 */
public class EmbeddedKafkaException extends RuntimeException {

    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, for a person reading a test report
     */
    public EmbeddedKafkaException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, for a person reading a test report
     * @param cause   the underlying failure
     */
    public EmbeddedKafkaException(String message, Throwable cause) {
        super(message, cause);
    }
}
