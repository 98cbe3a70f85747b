package dev.courier.rabbitmq;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.time.Duration;
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
    f.setChannelRpcTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(30_000L, connectionTimeout.toMillis() * 3)));
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
    return "ConnectionSettings[" + describe() + ", password=****, connectionName=" + connectionName + "]";
  }
}
