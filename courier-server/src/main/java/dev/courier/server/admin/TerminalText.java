package dev.courier.server.admin;

import java.io.FilterWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;

/**
 * Text about to reach an operator's terminal with every character that could drive the terminal
 * shown instead as a six-character escape of its code ({@code \}{@code u001b} for ESC): the C0
 * controls but line feed and tab (so ESC, which starts colour, cursor and title sequences, and
 * carriage return, which lets a line overwrite itself), DEL, the C1 controls (U+0080 to U+009F,
 * CSI among them) and the bidirectional overrides and isolates (U+202A to U+202E, U+2066 to
 * U+2069), which can make text read differently from what it is. Dead letters, keys, headers and error messages come from producers and brokers, not from
 * the operator, so the CLI prints them through this unless asked for {@code --raw}. The escape is
 * also JSON's, so a JSON document stays valid and means the same.
 */
public final class TerminalText {
  private TerminalText() {}

  /** Whether {@code c} is shown escaped. */
  public static boolean unsafe(char c) {
    return (c < 0x20 && c != '\n' && c != '\t')
        || (c >= 0x7f && c <= 0x9f)
        || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069);
  }

  /** {@code s} with every {@linkplain #unsafe unsafe} character escaped; null stays null. */
  public static String escape(String s) {
    if (s == null) {
      return null;
    }
    int i = 0;
    while (i < s.length() && !unsafe(s.charAt(i))) {
      i++;
    }
    if (i == s.length()) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
    for (; i < s.length(); i++) {
      append(b, s.charAt(i));
    }
    return b.toString();
  }

  /** A writer that escapes what it is given, then writes it to {@code out}. */
  public static PrintWriter safe(PrintWriter out) {
    return new PrintWriter(new Escaping(out), true);
  }

  private static void append(StringBuilder b, char c) {
    if (unsafe(c)) {
      b.append(String.format("\\u%04x", (int) c));
    } else {
      b.append(c);
    }
  }

  private static final class Escaping extends FilterWriter {
    Escaping(Writer out) {
      super(out);
    }

    @Override
    public void write(int c) throws IOException {
      if (unsafe((char) c)) {
        out.write(String.format("\\u%04x", c & 0xffff));
      } else {
        out.write(c);
      }
    }

    @Override
    public void write(char[] cbuf, int off, int len) throws IOException {
      write(new String(cbuf, off, len), 0, len);
    }

    @Override
    public void write(String str, int off, int len) throws IOException {
      String part = str.substring(off, off + len);
      String escaped = escape(part);
      out.write(escaped, 0, escaped.length());
    }
  }
}
