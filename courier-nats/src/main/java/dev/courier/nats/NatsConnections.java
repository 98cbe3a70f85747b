package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.RetriableCourierException;
import io.nats.client.AuthenticationException;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opening and closing the connections of a {@link JetStreamTransport} and its subscriptions, and
 * logging what happens to them, without ever printing credentials: server URLs are shown without
 * their user information.
 */
final class NatsConnections {
  private static final Logger log = LoggerFactory.getLogger(JetStreamTransport.class);

  private NatsConnections() {}

  static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.debug("closing a nats connection failed: {}", e.toString());
    }
  }

  static Connection connect(Options options, String servers) {
    try {
      return Nats.connect(options);
    } catch (AuthenticationException e) {
      throw new ConfigurationException(
          "credentials",
          "the NATS server at "
              + servers
              + " refused the credentials ("
              + e.getClass().getSimpleName()
              + ")");
    } catch (IOException e) {
      throw new RetriableCourierException(
          "could not connect to NATS at " + servers + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RetriableCourierException("interrupted while connecting to NATS at " + servers, e);
    }
  }

  /** Server URLs with any user information replaced, safe to log. */
  static String redact(List<String> urls) {
    List<String> out = new ArrayList<>(urls.size());
    for (String u : urls) {
      int scheme = u.indexOf("://");
      int start = scheme < 0 ? 0 : scheme + 3;
      int at = u.indexOf('@', start);
      out.add(at < 0 ? u : u.substring(0, start) + "***" + u.substring(at));
    }
    return String.join(",", out);
  }

  /**
   * Checks a builder's connection settings and returns a source of client options for new
   * connections, each with options of its own: the client shuts down a connection's executors when
   * it closes, and options shared with another connection would share them. The settings are a
   * snapshot: changing the builder later changes no connection.
   *
   * @throws ConfigurationException naming the setting and the rule it breaks
   */
  static Supplier<Options> options(JetStreamTransport.Builder b) {
    if (b.urls.isEmpty()) {
      throw new ConfigurationException(
          "servers", "at least one NATS server URL is required, e.g. nats://127.0.0.1:4222");
    }
    if (b.connectionTimeout == null
        || b.connectionTimeout.isNegative()
        || b.connectionTimeout.isZero()) {
      throw new ConfigurationException(
          "connectionTimeout", "must be positive, was " + b.connectionTimeout);
    }
    int auth =
        (b.token != null ? 1 : 0) + (b.user != null ? 1 : 0) + (b.credentialsFile != null ? 1 : 0);
    if (auth > 1) {
      throw new ConfigurationException(
          "credentials", "set at most one of token, userInfo and credentialsFile");
    }
    if (b.credentialsFile != null && !Files.isReadable(b.credentialsFile)) {
      throw new ConfigurationException(
          "credentialsFile", "is not a readable file: " + b.credentialsFile);
    }
    String shown = b.serversForLogs();
    List<String> servers = List.copyOf(b.urls);
    String name = b.connectionName;
    Duration timeout = b.connectionTimeout;
    char[] token = b.token == null ? null : b.token.clone();
    String user = b.user;
    char[] password = b.password == null ? null : b.password.clone();
    Path credentials = b.credentialsFile;
    return () -> options(servers, name, timeout, token, user, password, credentials, shown);
  }

  /** New client options for one connection. */
  private static Options options(
      List<String> urls,
      String connectionName,
      Duration connectionTimeout,
      char[] token,
      String user,
      char[] password,
      Path credentialsFile,
      String shown) {
    LoggingListener listener = new LoggingListener(shown);
    Options.Builder ob =
        new Options.Builder()
            .servers(urls.toArray(String[]::new))
            .connectionName(connectionName)
            .connectionTimeout(connectionTimeout)
            .maxReconnects(-1)
            .reconnectWait(Duration.ofMillis(500))
            .errorListener(listener)
            .connectionListener(listener);
    if (token != null) {
      ob.token(token.clone());
    } else if (user != null) {
      ob.userInfo(user.toCharArray(), password.clone());
    } else if (credentialsFile != null) {
      ob.credentialPath(credentialsFile.toString());
    }
    return ob.build();
  }

  /** Connection events and client errors, logged through SLF4J without credentials. */
  static final class LoggingListener implements ErrorListener, ConnectionListener {
    private final String servers;
    private final AtomicBoolean down = new AtomicBoolean();

    LoggingListener(String servers) {
      this.servers = servers;
    }

    @Override
    @SuppressWarnings(
        "deprecation") // abstract in the client's interface; the client calls the other
    public void connectionEvent(Connection conn, Events type) {
      event(type);
    }

    @Override
    public void connectionEvent(Connection conn, Events type, Long time, String uriDetails) {
      event(type);
    }

    private void event(Events type) {
      switch (type) {
        case DISCONNECTED -> {
          // The client reports every failed reconnect attempt as a new disconnect: warn once.
          if (down.compareAndSet(false, true)) {
            log.warn("nats connection to {} lost; reconnecting", servers);
          }
        }
        case RECONNECTED -> {
          down.set(false);
          log.info("nats connection to {} re-established", servers);
        }
        default ->
            log.debug(
                "nats connection to {}: {}", servers, type.toString().toLowerCase(Locale.ROOT));
      }
    }

    @Override
    public void errorOccurred(Connection conn, String error) {
      log.warn("nats server at {} reported: {}", servers, error);
    }

    @Override
    public void exceptionOccurred(Connection conn, Exception exp) {
      log.debug("nats client error on connection to {}: {}", servers, exp.toString());
    }
  }
}
