package dev.courier.server.config;

import java.util.Optional;

/**
 * How to reach RabbitMQ ({@code courier.rabbitmq.*}).
 *
 * @param uri the AMQP URI, or {@code null} when none is configured; {@link #toString()} hides a
 *     password in it
 * @param password the password, or {@code null} to take it from the URI (or the client's default);
 *     never shown
 * @param publisherConfirms whether the broker confirms each publish; {@code false} is refused by
 *     the transport
 * @param mandatory whether an unroutable message is returned; {@code false} is refused
 * @param persistentMessages whether messages are written to disk; {@code false} is refused
 */
public record RabbitMqSettings(
    String uri,
    String password,
    boolean publisherConfirms,
    boolean mandatory,
    boolean persistentMessages) {

  public Optional<String> configuredUri() {
    return Optional.ofNullable(uri);
  }

  @Override
  public String toString() {
    return "RabbitMqSettings[uri="
        + Masking.url(uri)
        + ", password="
        + (password == null ? null : Masking.SECRET)
        + ", publisherConfirms="
        + publisherConfirms
        + ", mandatory="
        + mandatory
        + ", persistentMessages="
        + persistentMessages
        + "]";
  }
}
