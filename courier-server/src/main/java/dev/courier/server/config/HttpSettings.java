package dev.courier.server.config;

/**
 * Where {@code relay} and {@code demo} serve {@code /metrics}, {@code /health/live} and {@code
 * /health/ready}.
 *
 * @param enabled whether to serve them at all
 * @param host the address to listen on; the loopback address by default, so that nothing is
 *     reachable from other machines unless asked for
 * @param port the TCP port; 0 lets the system pick a free one (the command prints it)
 */
public record HttpSettings(boolean enabled, String host, int port) {}
