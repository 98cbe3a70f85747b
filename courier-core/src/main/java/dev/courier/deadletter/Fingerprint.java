package dev.courier.deadletter;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * How a dead letter failed, reduced to what stays the same between occurrences of one bug: the
 * exception type, the top stack frame (class and method, without the line number, so a redeploy
 * does not split a group) and the message shape (the message with UUIDs, hex strings and numbers
 * replaced by placeholders, so "order 42 not found" and "order 43 not found" fall together).
 *
 * <p>{@link #id()} is a short hash of the three, stored with each dead letter so that groups can be
 * listed, filtered, replayed and discarded in SQL. It is computed from the stored text of the
 * error (class name, message and stack trace), so rows written before fingerprints existed get the
 * same value when they are filled in later.
 *
 * @param id 16 hex characters
 * @param exceptionType the exception's class name, or {@code none} when the dead letter has no error
 * @param topFrame {@code class.method} of the first stack frame, or an empty string
 * @param messageShape the normalised message, at most 200 characters
 */
public record Fingerprint(String id, String exceptionType, String topFrame, String messageShape) {
  private static final int MAX_SHAPE = 200;
  private static final Pattern UUID =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  private static final Pattern HEX = Pattern.compile("\\b(?:0[xX])?(?=[0-9a-fA-F]*\\d)[0-9a-fA-F]{8,}\\b");
  private static final Pattern NUMBER = Pattern.compile("[-+]?\\d+(?:[.,]\\d+)*");
  private static final Pattern SPACES = Pattern.compile("\\s+");
  private static final Pattern FRAME = Pattern.compile("^\\s*at\\s+(?:[^/\\s(]*/)*([^\\s(]+)\\(");

  /**
   * The fingerprint of a failure as the dead-letter table stores it.
   *
   * @param errorClass the exception's class name, or {@code null}
   * @param message the exception's message, or {@code null}
   * @param stackTrace the printed stack trace, or {@code null}
   */
  public static Fingerprint of(String errorClass, String message, String stackTrace) {
    String type = errorClass == null || errorClass.isBlank() ? "none" : errorClass.strip();
    String frame = topFrame(stackTrace);
    String shape = shape(message);
    return new Fingerprint(hash(type + '\n' + frame + '\n' + shape), type, frame, shape);
  }

  /** The message with UUIDs, long hex strings and numbers replaced, whitespace collapsed. */
  public static String shape(String message) {
    if (message == null || message.isBlank() || message.equals("null")) {
      return "";
    }
    String s = UUID.matcher(message).replaceAll("<uuid>");
    s = HEX.matcher(s).replaceAll("<hex>");
    s = NUMBER.matcher(s).replaceAll("<n>");
    s = SPACES.matcher(s).replaceAll(" ").strip();
    return s.length() <= MAX_SHAPE ? s : s.substring(0, MAX_SHAPE);
  }

  /** {@code class.method} of the first {@code at} line of a printed stack trace. */
  static String topFrame(String stackTrace) {
    if (stackTrace == null) {
      return "";
    }
    for (String line : stackTrace.split("\n", 64)) {
      var m = FRAME.matcher(line);
      if (m.find()) {
        return m.group(1);
      }
    }
    return "";
  }

  private static String hash(String text) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
