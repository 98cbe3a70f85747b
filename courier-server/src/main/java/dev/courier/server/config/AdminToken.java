package dev.courier.server.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;

/**
 * The bearer token that mutating admin API calls must present. Holds only a SHA-256 digest of the
 * token; {@link #matches} compares digests in constant time, so neither the token's content nor
 * its length leaks through timing. {@link #toString()} never shows it.
 */
public final class AdminToken {
  /** The shortest token accepted. */
  public static final int MIN_LENGTH = 16;

  private final byte[] digest;

  public AdminToken(String token) {
    Objects.requireNonNull(token, "token");
    this.digest = sha256(token);
  }

  /** Whether {@code presented} is the token, compared in constant time. */
  public boolean matches(String presented) {
    if (presented == null) {
      return false;
    }
    return MessageDigest.isEqual(digest, sha256(presented));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  @Override
  public String toString() {
    return "AdminToken[" + Masking.SECRET + "]";
  }
}
