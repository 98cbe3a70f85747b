package dev.courier.internal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Text from brokers, read as untrusted input. Public only so adapters can share it; not part of
 * the API.
 */
public final class Text {
  private Text() {}

  /** Text from a message or a setting, shortened and stripped of control characters, to log. */
  public static String printable(String s) {
    String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }

  /**
   * Decodes UTF-8, refusing malformed input instead of replacing it.
   *
   * @throws CharacterCodingException if {@code bytes} are not valid UTF-8
   */
  public static String strictUtf8(byte[] bytes) throws CharacterCodingException {
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }

  /**
   * A received value as text for a dead letter: UTF-8 when it is, else {@code base64:...}, so that
   * an operator can still see exactly what arrived; {@code null} is the empty string.
   */
  public static String rawText(byte[] bytes) {
    if (bytes == null) {
      return "";
    }
    try {
      return strictUtf8(bytes);
    } catch (CharacterCodingException e) {
      return "base64:" + Base64.getEncoder().encodeToString(bytes);
    }
  }

  /** The number of bytes {@code s} takes in UTF-8, without encoding it; 0 for {@code null}. */
  public static long utf8Length(String s) {
    if (s == null) {
      return 0;
    }
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
