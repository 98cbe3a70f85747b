package dev.courier.relay;

import java.net.InetAddress;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The id a relay gets when none is set: the host name, so that a restarted relay keeps its metric
 * series ({@code relay} tag) and log name. The second relay built without an id in the same JVM
 * gets {@code host-2}, the third {@code host-3}, and so on, so that relays of one process never
 * share an id and the same program gets the same ids after a restart.
 *
 * <p>Two relay processes on one host get the same default: give each its own id there (a systemd
 * template instance, a container's host name).
 */
final class DefaultRelayId {
  private static final AtomicInteger BUILT = new AtomicInteger();

  private DefaultRelayId() {}

  /** The next default id of this JVM. */
  static String next() {
    return of(hostName(), BUILT.incrementAndGet());
  }

  /** The {@code n}th default id (1-based) on a host. */
  static String of(String host, int n) {
    String h = host == null || host.isBlank() ? "localhost" : host.strip().toLowerCase(Locale.ROOT);
    String id = n <= 1 ? h : h + "-" + n;
    return id.length() <= 255 ? id : id.substring(id.length() - 255);
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException | SecurityException e) {
      return "localhost";
    }
  }
}
