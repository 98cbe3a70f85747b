package dev.courier.server.http;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which {@code Host} headers a server answers: a defence against DNS rebinding, where a web page
 * of an attacker's domain is made to resolve to 127.0.0.1 and then reads the server from the
 * operator's own browser. Such a page's requests carry the attacker's name in {@code Host}, so a
 * server that answers only to names it knows cannot be read that way.
 *
 * <p>Allowed: no {@code Host} at all (no browser sends that), an IPv4 or bracketed IPv6 address
 * (a rebinding page always has a name), {@code localhost} and names under {@code .localhost}
 * (browsers resolve those to loopback themselves), the host the server was configured with, and
 * the configured extra names: exact names, {@code .suffix} for every name ending with it, or
 * {@code *} for any. Names compare case-insensitively, without a trailing dot or the port.
 */
final class HostCheck {
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  private final String configuredHost;
  private final List<String> allowed;
  private final boolean any;

  HostCheck(String configuredHost, List<String> allowed) {
    this.configuredHost = normalise(configuredHost);
    this.allowed = allowed.stream().map(HostCheck::normalise).toList();
    this.any = this.allowed.contains("*");
  }

  /** Whether a request whose {@code Host} header is {@code header} (null when absent) is answered. */
  boolean allows(String header) {
    if (header == null || any) {
      return true;
    }
    String h = header.strip();
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      // a bracketed IPv6 literal, with or without a port
      return end > 1 && (end == h.length() - 1 || h.substring(end + 1).matches(":\\d{1,5}"));
    }
    int colon = h.lastIndexOf(':');
    if (colon >= 0) {
      if (!h.substring(colon + 1).matches("\\d{1,5}")) {
        return false;
      }
      h = h.substring(0, colon);
    }
    String name = normalise(h);
    if (name.isEmpty()) {
      return false;
    }
    if (IPV4.matcher(name).matches()
        || name.equals("localhost")
        || name.endsWith(".localhost")
        || name.equals(configuredHost)) {
      return true;
    }
    for (String a : allowed) {
      if (a.startsWith(".") ? name.endsWith(a) : name.equals(a)) {
        return true;
      }
    }
    return false;
  }

  private static String normalise(String name) {
    String n = name.strip().toLowerCase(Locale.ROOT);
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }
}
