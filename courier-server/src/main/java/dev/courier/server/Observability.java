package dev.courier.server;

import com.sun.net.httpserver.HttpHandler;
import dev.courier.CourierException;
import dev.courier.deadletter.AlertListener;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.deadletter.DeadLetterMonitor;
import dev.courier.jdbc.CourierTables;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.relay.HorizonMonitor;
import dev.courier.relay.Relay;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.HealthSettings;
import dev.courier.server.config.HttpSettings;
import dev.courier.server.config.Origin;
import dev.courier.server.config.RelaySettings;
import dev.courier.server.config.Setting;
import dev.courier.server.http.AdminApi;
import dev.courier.server.http.CourierHttpServer;
import dev.courier.server.http.HealthCheck;
import dev.courier.server.http.HealthChecks;
import dev.courier.server.http.Readiness;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.BindException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;

/**
 * The metrics, health checks, dead-letter monitor and HTTP endpoints of one {@code courier}
 * process. A command creates it first (its registry goes to the relay and the consumers), tells it
 * what to watch, then serves:
 *
 * <pre>{@code
 * try (Observability obs = new Observability(config)) {
 *   Relay relay = Components.relay(ds, transport, tables, config.relay(), obs.registry());
 *   obs.watchStores(ds, tables, List.of(), AlertListener.logging());
 *   obs.watchRelay(relay);
 *   Optional<URI> at = obs.serve(false);
 *   ...
 * }
 * }</pre>
 *
 * <p>Not thread-safe while being set up; {@link #close()} may be called from any thread.
 */
public final class Observability implements AutoCloseable {
  private final CourierConfig config;
  private final Clock clock;
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gc = new JvmGcMetrics();
  private final List<HealthCheck> checks = new ArrayList<>();
  private final Map<String, HttpHandler> mounts = new LinkedHashMap<>();
  private DeadLetterMonitor monitor;
  private HorizonMonitor horizon;
  private AdminApi adminApi;
  private volatile CourierHttpServer server;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Creates the registry, with the JVM's own meters (memory, GC, threads, CPU, uptime). */
  public Observability(CourierConfig config) {
    this(config, Clock.systemUTC());
  }

  Observability(CourierConfig config, Clock clock) {
    this.config = config;
    this.clock = clock;
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** The registry the process's relay and consumers record into. */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /**
   * Exports the outbox, dead-letter and transaction-horizon gauges, adds the {@code outbox}, {@code
   * dead-letters}, {@code consumers} (paused ones) and (unless {@code courier.health.horizon-max-lag}
   * is off) {@code horizon} readiness checks, and starts the dead-letter monitor, which tells {@code listener} about
   * growth, and the horizon monitor.
   *
   * @param consumers the consumers this process runs, exported at 0 before their first dead letter
   */
  public void watchStores(
      DataSource dataSource, CourierTables tables, Collection<String> consumers, AlertListener listener) {
    HealthSettings h = config.health();
    OutboxAdmin outbox = new OutboxAdmin(dataSource, tables, clock);
    outbox.bindTo(registry);
    DeadLetterAdmin deadLetters =
        DeadLetterAdmin.builder(dataSource).tables(tables).clock(clock).consumers(consumers).build();
    deadLetters.bindTo(registry);
    monitor =
        DeadLetterMonitor.builder(deadLetters)
            .outbox(outbox)
            .threshold(h.deadLetterGrowth())
            .window(h.deadLetterWindow())
            .checkInterval(h.checkInterval())
            .listener(listener)
            .clock(clock)
            .build();
    monitor.start();
    horizon = HorizonMonitor.builder(dataSource).checkInterval(h.checkInterval()).clock(clock).build();
    horizon.bindTo(registry);
    horizon.start();
    checks.add(HealthChecks.outboxAge(outbox, h.outboxMaxAge()));
    checks.add(HealthChecks.deadLetters(monitor));
    checks.add(HealthChecks.consumerPauses(new dev.courier.inbox.ConsumerPauses(dataSource, tables, clock)));
    h.horizonMaxLag().ifPresent(max -> checks.add(HealthChecks.horizon(horizon, max)));
    if (config.admin().enabled()) {
      serveAdminApi(dataSource, tables);
    }
  }

  /**
   * Has {@link #serve} also serve the {@linkplain AdminApi admin API} at {@value AdminApi#PREFIX},
   * with the configured token ({@code courier.admin.token}), which reads need too unless {@code
   * courier.admin.open-reads} opens them on a loopback address. {@link #watchStores} calls it when {@code courier.admin.enabled} is
   * true.
   *
   * @throws dev.courier.ConfigurationException if {@code courier.http.host} is not a loopback
   *     address and no token is configured, or reads are open there
   */
  public AdminApi serveAdminApi(DataSource dataSource, CourierTables tables) {
    return serveAdminApi(dataSource, tables, config.admin().openReads());
  }

  /**
   * As {@link #serveAdminApi(DataSource, CourierTables)}, with reads open or not whatever {@code
   * courier.admin.open-reads} says: the demo opens them on its loopback address, where its own
   * throwaway database is all there is to read.
   */
  public AdminApi serveAdminApi(DataSource dataSource, CourierTables tables, boolean openReads) {
    if (adminApi != null) {
      return adminApi;
    }
    AdminApi.requireSafeExposure(config.http().host(), config.admin().token() != null, openReads);
    adminApi = new AdminApi(dataSource, tables, clock, config.admin().token(), !openReads);
    mount(AdminApi.PREFIX, adminApi);
    return adminApi;
  }

  /**
   * Adds the {@code relay} readiness check: down when the relay is not running or has completed no
   * pass for twice its publish timeout plus its longest poll interval and 30 s.
   */
  public void watchRelay(Relay relay) {
    RelaySettings r = config.relay();
    Duration maxSilence =
        r.publishTimeout().multipliedBy(2).plus(r.maxPollInterval()).plusSeconds(30);
    checks.add(HealthChecks.relay(relay, clock, maxSilence));
  }

  /**
   * Has {@link #serve} also serve every path under {@code prefix} with {@code handler}, such as the
   * admin API at {@code /api/}; when already serving, mounts it at once. See {@link
   * CourierHttpServer#mount}.
   */
  public void mount(String prefix, HttpHandler handler) {
    mounts.put(prefix, handler);
    CourierHttpServer s = server;
    if (s != null) {
      s.mount(prefix, handler);
    }
  }

  /**
   * Serves the dashboard, {@code /metrics}, {@code /health/live} and {@code /health/ready} as
   * configured ({@code courier.http.*}), and whatever was {@linkplain #mount mounted}.
   *
   * @param anyPortIfDefaultTaken when the port is the built-in default and taken (another courier
   *     process runs), listen on a free port instead of failing; for the demo
   * @return the base URL, or empty when {@code courier.http.enabled} is false
   * @throws CourierException if the address cannot be bound
   */
  public Optional<URI> serve(boolean anyPortIfDefaultTaken) {
    HttpSettings http = config.http();
    if (!http.enabled()) {
      return Optional.empty();
    }
    Readiness readiness = new Readiness(checks);
    try {
      server = CourierHttpServer.start(http, registry, readiness);
    } catch (BindException e) {
      boolean defaultPort =
          config.value(Setting.HTTP_PORT).map(v -> v.origin() instanceof Origin.Default).orElse(true);
      if (!(anyPortIfDefaultTaken && defaultPort && http.port() != 0)) {
        throw cannotListen(http, e);
      }
      try {
        server =
            CourierHttpServer.start(
                new HttpSettings(true, http.host(), 0, http.allowedHosts(), http.tls(), http.allowPlaintext()),
                registry,
                readiness);
      } catch (IOException again) {
        throw cannotListen(http, again);
      }
    } catch (IOException | IllegalArgumentException e) {
      throw cannotListen(http, e);
    }
    mounts.forEach(server::mount);
    return Optional.of(server.uri("/"));
  }

  private static CourierException cannotListen(HttpSettings http, Exception e) {
    return new CourierException(
        "cannot serve metrics and health on "
            + http.host()
            + ":"
            + http.port()
            + " ("
            + e.getMessage()
            + "); set "
            + Setting.HTTP_PORT.key()
            + " to a free port (0 picks one), or "
            + Setting.HTTP_ENABLED.key()
            + "=false",
        e);
  }

  /** Stops serving, stops the monitor, and closes the registry. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    CourierHttpServer s = server;
    if (s != null) {
      s.close();
    }
    if (monitor != null) {
      monitor.close();
    }
    if (horizon != null) {
      horizon.close();
    }
    gc.close();
    registry.close();
  }
}
