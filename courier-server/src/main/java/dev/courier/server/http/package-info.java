/**
 * The HTTP endpoints of a running {@code courier} process: {@code /metrics} (Prometheus), {@code
 * /health/live} and {@code /health/ready}, served by the JDK's own {@code com.sun.net.httpserver}.
 * Nothing here changes state, and the endpoints listen on the loopback address unless configured
 * otherwise.
 */
package dev.courier.server.http;
