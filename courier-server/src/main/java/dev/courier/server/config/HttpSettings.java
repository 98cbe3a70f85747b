package dev.courier.server.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where {@code relay}, {@code serve} and {@code demo} serve the dashboard, {@code /metrics}, {@code
 * /health/live}, {@code /health/ready} and the admin API, and how.
 *
 * @param enabled whether to serve them at all
 * @param host the address to listen on; the loopback address by default, so that nothing is
 *     reachable from other machines unless asked for
 * @param port the TCP port; 0 lets the system pick a free one (the command prints it)
 * @param allowedHosts names a request's {@code Host} header may carry besides the loopback names,
 *     IP addresses and {@code host} itself ({@code courier.http.allowed-hosts}); {@code *} allows
 *     any, an entry starting with a dot allows every name ending with it
 * @param tls the keystore to serve HTTPS from, or {@code null} for plain HTTP
 * @param allowPlaintext whether plain HTTP may be served on an address that is not loopback
 */
public record HttpSettings(
    boolean enabled, String host, int port, List<String> allowedHosts, Tls tls, boolean allowPlaintext) {

  public HttpSettings {
    Objects.requireNonNull(host, "host");
    allowedHosts = List.copyOf(allowedHosts);
  }

  /** Plain HTTP on {@code host:port}, no extra host names. */
  public HttpSettings(boolean enabled, String host, int port) {
    this(enabled, host, port, List.of(), null, false);
  }

  /**
   * The keystore HTTPS is served from ({@code courier.http.tls.*}).
   *
   * @param keystore the file: PKCS12 (the default) or JKS, holding the server's key and certificate
   * @param password its password, or {@code null} when it has none
   * @param type its type, {@code PKCS12} or {@code JKS}
   */
  public record Tls(Path keystore, String password, String type) {
    public Tls {
      Objects.requireNonNull(keystore, "keystore");
      Objects.requireNonNull(type, "type");
    }

    @Override
    public String toString() {
      return "Tls[keystore=" + keystore + ", password=" + (password == null ? "none" : Masking.SECRET)
          + ", type=" + type + "]";
    }
  }
}
