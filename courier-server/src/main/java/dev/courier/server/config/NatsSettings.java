package dev.courier.server.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How to reach NATS JetStream ({@code courier.nats.*}). At most one way to authenticate is set:
 * a token, a user with a password, or a credentials file.
 *
 * @param url the server URLs, comma-separated, without credentials; {@code null} when none is
 *     configured
 * @param token the token, or {@code null}; never shown
 * @param user the user, or {@code null}
 * @param password the user's password (set exactly when {@code user} is); never shown
 * @param credentialsFile a NATS credentials file (JWT and NKey seed), or {@code null}
 * @param duplicateWindow the duplicate window of the streams the relay creates, or {@code null}
 *     for the relay's retry horizon plus a minute
 * @param replicas replicas of the streams the relay creates
 */
public record NatsSettings(
    String url,
    String token,
    String user,
    String password,
    Path credentialsFile,
    Duration duplicateWindow,
    int replicas) {

  public Optional<String> configuredUrl() {
    return Optional.ofNullable(url);
  }

  @Override
  public String toString() {
    return "NatsSettings[url="
        + url
        + ", token="
        + (token == null ? null : Masking.SECRET)
        + ", user="
        + user
        + ", password="
        + (password == null ? null : Masking.SECRET)
        + ", credentialsFile="
        + credentialsFile
        + ", duplicateWindow="
        + duplicateWindow
        + ", replicas="
        + replicas
        + "]";
  }
}
