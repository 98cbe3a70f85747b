package dev.courier.rabbitmq;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.courier.ConfigurationException;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;

/**
 * Where and how to connect. Immutable. The password is kept for the connection factory only: it is
 * never part of {@link #toString()}, {@link #describe()} or any message.
 */
final class ConnectionSettings {
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final String host;
  private final int port;
  private final String virtualHost;
  private final String username;
  private final String password;
  private final SSLContext sslContext;
  private final String connectionName;
  private final Duration connectionTimeout;
  private final Duration heartbeat;
  private final ThreadFactory clientThreads;

  /**
   * @param threadFactory where the client's own threads come from; they are named {@code
   *     courier-rabbitmq-client-<n>} (the client renames its connection's reader thread)
   */
  ConnectionSettings(
      String host,
      int port,
      String virtualHost,
      String username,
      String password,
      SSLContext sslContext,
      String connectionName,
      Duration connectionTimeout,
      Duration heartbeat,
      ThreadFactory threadFactory) {
    this.host = host;
    this.port = port;
    this.virtualHost = virtualHost;
    this.username = username;
    this.password = password;
    this.sslContext = sslContext;
    this.connectionName = connectionName;
    this.connectionTimeout = connectionTimeout;
    this.heartbeat = heartbeat;
    this.clientThreads =
        task -> {
          Thread t = threadFactory.newThread(task);
          if (t != null) {
            t.setName("courier-rabbitmq-client-" + THREADS.incrementAndGet());
          }
          return t;
        };
  }

  /**
   * The settings of a transport builder, checked: its URI, if it has one, applied over its host,
   * port, virtual host, user and password (parts the URI leaves out keep the builder's values).
   *
   * @throws ConfigurationException naming the setting and the rule it breaks; a message about the
   *     URI never shows it, since it may hold a password
   */
  static ConnectionSettings from(RabbitMqTransport.Builder b) {
    Parts parts = new Parts(b.host, b.port, b.virtualHost, b.username, b.password, b.sslContext);
    if (b.uri != null) {
      parts = parts.withUri(b.uri);
    }
    if (parts.host() == null || parts.host().isBlank()) {
      throw new ConfigurationException("host", "is required: the RabbitMQ host to connect to");
    }
    int port = parts.port() != null ? parts.port() : (parts.sslContext() != null ? 5671 : 5672);
    if (port < 1 || port > 65_535) {
      throw new ConfigurationException("port", "must be from 1 to 65535, was " + port);
    }
    if (parts.virtualHost() == null) {
      throw new ConfigurationException("virtualHost", "is required (the default is '/')");
    }
    if (parts.username() == null || parts.username().isEmpty()) {
      throw new ConfigurationException("username", "is required");
    }
    if (parts.password() == null) {
      throw new ConfigurationException("password", "is required (it may be empty)");
    }
    if (b.connectionName == null || b.connectionName.isBlank()) {
      throw new ConfigurationException("connectionName", "must not be blank");
    }
    Duration timeout = b.connectionTimeout;
    if (timeout == null || timeout.isZero() || timeout.isNegative()) {
      throw new ConfigurationException(
          "connectionTimeout", "must be a positive duration, was " + timeout);
    }
    if (b.heartbeat == null || b.heartbeat.isNegative()) {
      throw new ConfigurationException("heartbeat", "must be zero or positive, was " + b.heartbeat);
    }
    return new ConnectionSettings(
        parts.host(),
        port,
        parts.virtualHost(),
        parts.username(),
        parts.password(),
        parts.sslContext(),
        b.connectionName,
        timeout,
        b.heartbeat,
        b.threadFactory);
  }

  /** Where to connect and as whom, before the checks. */
  private record Parts(
      String host,
      Integer port,
      String virtualHost,
      String username,
      String password,
      SSLContext sslContext) {

    /** These parts with what an AMQP URI sets replaced; never echoes the URI. */
    Parts withUri(String uri) {
      String hidden = " (the value is not shown because it may contain a password)";
      URI u;
      try {
        u = new URI(uri.trim());
      } catch (URISyntaxException e) {
        throw new ConfigurationException(
            "uri", "is not a valid AMQP URI amqp://user:password@host:port/virtual-host" + hidden);
      }
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("amqp") && !scheme.equals("amqps")) {
        throw new ConfigurationException("uri", "must start with amqp:// or amqps://" + hidden);
      }
      SSLContext ssl = sslContext;
      if (scheme.equals("amqps") && ssl == null) {
        try {
          ssl = SSLContext.getDefault();
        } catch (NoSuchAlgorithmException e) {
          throw new ConfigurationException(
              "uri",
              "amqps:// needs TLS, and this JVM has no default SSLContext; set sslContext(...)");
        }
      }
      if (u.getHost() == null) {
        throw new ConfigurationException("uri", "names no host" + hidden);
      }
      String user = username;
      String pass = password;
      String userInfo = u.getRawUserInfo();
      if (userInfo != null) {
        int colon = userInfo.indexOf(':');
        user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
        if (colon >= 0) {
          pass = decode(userInfo.substring(colon + 1));
        }
      }
      String path = u.getRawPath();
      String vhost = path != null && path.length() > 1 ? decode(path.substring(1)) : virtualHost;
      return new Parts(
          u.getHost(),
          u.getPort() != -1 ? Integer.valueOf(u.getPort()) : port,
          vhost,
          user,
          pass,
          ssl);
    }

    private static String decode(String s) {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
  }

  /**
   * Opens a connection without the client's automatic recovery: Courier notices a lost connection
   * itself (a publish fails, a subscription reconnects), so that no listener or delivery tag of a
   * dead connection is silently carried over to a new one.
   *
   * @param purpose shown in the broker's connection list after the connection name
   */
  Connection open(String purpose) throws IOException, TimeoutException {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(host);
    f.setPort(port);
    f.setVirtualHost(virtualHost);
    f.setUsername(username);
    f.setPassword(password);
    if (sslContext != null) {
      f.useSslProtocol(sslContext);
      f.enableHostnameVerification();
    }
    int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectionTimeout.toMillis());
    f.setConnectionTimeout(timeoutMillis);
    f.setHandshakeTimeout(timeoutMillis);
    f.setChannelRpcTimeout(
        (int) Math.min(Integer.MAX_VALUE, Math.max(30_000L, connectionTimeout.toMillis() * 3)));
    f.setRequestedHeartbeat((int) Math.min(Integer.MAX_VALUE, heartbeat.toSeconds()));
    f.setAutomaticRecoveryEnabled(false);
    f.setTopologyRecoveryEnabled(false);
    f.setThreadFactory(clientThreads);
    return f.newConnection(connectionName + " (" + purpose + ")");
  }

  /** Host, port, virtual host and user, for messages; never the password. */
  String describe() {
    return (sslContext != null ? "amqps://" : "amqp://")
        + host
        + ":"
        + port
        + " (virtual host '"
        + virtualHost
        + "', user '"
        + username
        + "')";
  }

  String connectionName() {
    return connectionName;
  }

  @Override
  public String toString() {
    return "ConnectionSettings["
        + describe()
        + ", password=****, connectionName="
        + connectionName
        + "]";
  }
}
