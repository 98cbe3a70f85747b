package dev.courier.server;

import dev.courier.server.admin.TerminalText;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * A plain-text table for terminals: left-aligned columns, long cells cut with an ellipsis, control
 * characters in cells shown escaped whatever the output stream does.
 */
final class TextTable {
  private final List<String> headers;
  private final List<List<String>> rows = new ArrayList<>();
  private final int maxCell;

  TextTable(int maxCell, String... headers) {
    this.headers = List.of(headers);
    this.maxCell = maxCell;
  }

  TextTable row(Object... cells) {
    List<String> r = new ArrayList<>();
    for (Object c : cells) {
      // line breaks and tabs would break the layout; every other control character is shown
      // escaped, as everything the CLI prints from the database is (TerminalText)
      String s = c == null ? "-" : TerminalText.escape(c.toString().replaceAll("[\\r\\n\\t]+", " "));
      r.add(s.length() > maxCell ? s.substring(0, maxCell - 1) + "…" : s);
    }
    rows.add(r);
    return this;
  }

  void print(PrintWriter out) {
    int[] w = new int[headers.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = headers.get(i).length();
      for (List<String> r : rows) {
        w[i] = Math.max(w[i], r.get(i).length());
      }
    }
    line(out, headers, w);
    for (List<String> r : rows) {
      line(out, r, w);
    }
  }

  private static void line(PrintWriter out, List<String> cells, int[] w) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < cells.size(); i++) {
      if (i > 0) {
        sb.append("  ");
      }
      String c = cells.get(i);
      sb.append(c);
      if (i < cells.size() - 1) {
        sb.append(" ".repeat(w[i] - c.length()));
      }
    }
    out.println(sb);
  }
}
