package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.Banner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.core.task.TaskExecutor;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.jdbc.datasource.DelegatingDataSource;
import org.springframework.kafka.core.KafkaOperations;
import org.springframework.kafka.core.ProducerFactory;
import org.springframework.kafka.support.ProducerListener;
import org.springframework.modulith.events.EventExternalizationConfiguration;
import org.springframework.modulith.events.IncompleteEventPublications;
import org.springframework.modulith.events.RoutingTarget;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The Spring Modulith peer: a Spring Boot application context without a web server, on the same
 * PostgreSQL and broker as Courier, with Modulith's JDBC event publication registry ({@code
 * spring-modulith-events-jdbc}, its {@code EVENT_PUBLICATION} table in a fresh schema) and its Kafka
 * externalization ({@code spring-modulith-events-kafka}). The writer's transaction inserts the
 * business row and publishes an {@link OrderPlaced} application event; Modulith stores the
 * publication in the same transaction and, after the commit, externalizes the event on Spring
 * Boot's task executor through Spring Kafka's {@code KafkaTemplate}. The send's future completes
 * when the broker acknowledges the record, and only then does Modulith mark the publication
 * completed, in a transaction of its own. Spring Kafka completes that future in the producer's
 * callback, so the completion's transaction runs on the producer's network thread; and Spring's
 * {@code @Async} support waits for a returned future, so each task thread carries one event from
 * its "processing" mark to its completion.
 *
 * <p>Everything runs at Modulith's and Spring Boot's defaults (Boot's task executor, Kafka's
 * producer defaults: {@code acks=all}, idempotent, {@code linger.ms=5}), except what the
 * measurement needs: the pool is the benchmark's (HikariCP with 10 connections, Boot's default
 * size), the registry creates its own table ({@code
 * spring.modulith.events.jdbc.schema-initialization.enabled}), and the record's value is the event's
 * payload bytes, sent as they are ({@code spring.modulith.events.kafka.enable-json=false} and a byte
 * array serializer), so that the record carries the same bytes as Courier's and the arrival clock
 * can read its stamp. The {@code matched} setting also gives the producer the linger of Courier's
 * {@link KafkaTransport}.
 *
 * <p>The drain: the backlog is published through Modulith in a context whose task executor drops
 * every task, so that each publication is committed and never externalized (as after a crash that
 * lost the queued tasks); that context is closed, a new one is started on the same table, and the
 * time runs from {@link IncompleteEventPublications#resubmitIncompletePublications} until every
 * record is acknowledged and every publication is marked completed.
 */
final class ModulithPeer {
  private static final Logger log = LoggerFactory.getLogger(ModulithPeer.class);
  private static final int FILL_BATCH = 1000;
  /** HikariCP's and so Spring Boot's default pool size. */
  private static final int POOL_SIZE = 10;

  private ModulithPeer() {}

  /** The application event the writer publishes: the ordering key and the record's payload. */
  public record OrderPlaced(String key, byte[] payload) {}

  /** The application: Spring Boot's auto-configuration and nothing scanned. */
  @SpringBootConfiguration(proxyBeanMethods = false)
  @EnableAutoConfiguration
  static class Application {}

  /** Modulith's settings for one measurement. */
  record Setting(String id, String label, Integer lingerMs) {
    static final Setting DEFAULTS = new Setting("defaults", "Modulith and Spring Boot defaults, Kafka producer defaults", null);
    static final Setting MATCHED =
        new Setting("matched", "producer linger.ms=" + KafkaTransport.DEFAULT_LINGER_MS + " as Courier's", KafkaTransport.DEFAULT_LINGER_MS);
  }

  static void run(RunContext ctx) {
    BenchEnvironment env = ctx.env();
    int n = ctx.options().modulithBacklog();
    int size = ctx.options().payloadSizes().get(0);
    String sz = size + " B";
    Workload w = Workload.MODULITH;
    HikariDataSource courierPool = env.freshSchema("mod_courier", 8);
    RelayDrain.Drain courier;
    try {
      courier = RelayDrain.drain(env, courierPool, env.newTopic("mod-courier"), n, size, env::checkpoint);
    } finally {
      env.discard(courierPool);
    }
    ctx.add(w, "courier.drain", "Courier relay drain, same backlog of " + n + ", " + sz, "events/s", courier.eventsPerSecond(), null);
    for (Setting s : new Setting[] {Setting.DEFAULTS, Setting.MATCHED}) {
      double rate = drain(ctx, s, n, size);
      ctx.add(w, s.id() + ".drain", "Modulith drain, backlog of " + n + ", " + sz + " (resubmission → last publication completed), " + s.label(), "events/s", rate, null);
      ctx.add(w, s.id() + ".drain_ratio", "Courier's drain ÷ Modulith's, " + s.label(), Figure.RATIO, courier.eventsPerSecond() / rate, null);
    }
    String rate = String.format(Locale.ROOT, "%.0f/s", ctx.options().e2eRate());
    HikariDataSource pool = env.freshSchema("mod_e2e_courier", POOL_SIZE);
    Histogram c;
    try {
      c = CourierArrival.measure(env, pool, env.newTopic("mod-e2e-courier"), ctx.options());
    } finally {
      env.discard(pool);
    }
    ctx.add(w, "courier.e2e.p50", "Courier commit → record at a consumer p50 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(50)), null);
    ctx.add(w, "courier.e2e.p99", "Courier commit → record at a consumer p99 at " + rate, "ms", ArrivalClock.ms(c.getValueAtPercentile(99)), null);
    for (Setting s : new Setting[] {Setting.DEFAULTS, Setting.MATCHED}) {
      Histogram m = endToEnd(ctx, s);
      ctx.add(w, s.id() + ".e2e.p50", "Modulith commit → record at a consumer p50 at " + rate + ", " + s.label(), "ms", ArrivalClock.ms(m.getValueAtPercentile(50)), null);
      ctx.add(w, s.id() + ".e2e.p99", "Modulith commit → record at a consumer p99 at " + rate + ", " + s.label(), "ms", ArrivalClock.ms(m.getValueAtPercentile(99)), null);
      ctx.add(
          w,
          s.id() + ".e2e.p99_ratio",
          "Courier's p99 ÷ Modulith's p99 (below 1: Courier is faster), " + s.label(),
          Figure.RATIO,
          (double) c.getValueAtPercentile(99) / Math.max(1, m.getValueAtPercentile(99)),
          null);
    }
  }

  /**
   * Counts the records the broker acknowledged. Spring Kafka calls it right after it completes the
   * send's future, and Modulith marks the publication completed in that completion, so a record
   * counted here has its publication marked completed already.
   */
  static final class Confirmations implements ProducerListener<Object, Object> {
    private final AtomicLong confirmed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile Exception lastFailure;

    @Override
    public void onSuccess(ProducerRecord<Object, Object> record, RecordMetadata metadata) {
      confirmed.incrementAndGet();
    }

    @Override
    public void onError(ProducerRecord<Object, Object> record, RecordMetadata metadata, Exception exception) {
      lastFailure = exception;
      failed.incrementAndGet();
    }

    long confirmed() {
      return confirmed.get();
    }

    void failIfAnyFailed() {
      if (failed.get() > 0) {
        throw new IllegalStateException("Modulith: " + failed.get() + " sends failed, the last with " + lastFailure, lastFailure);
      }
    }
  }

  /**
   * Starts an application context on {@code pool}'s schema whose externalization routes {@link
   * OrderPlaced} to {@code topic}. With {@code dropTasks}, the task executor discards what it is
   * given, so nothing is externalized.
   */
  static ConfigurableApplicationContext start(
      BenchEnvironment env, HikariDataSource pool, String topic, Setting s, boolean dropTasks, Confirmations confirmations) {
    // Spring Boot would otherwise re-initialise logback with its own configuration
    System.setProperty("org.springframework.boot.logging.LoggingSystem", "none");
    SpringApplication app = new SpringApplication(Application.class);
    app.setWebApplicationType(WebApplicationType.NONE);
    app.setBannerMode(Banner.Mode.OFF);
    app.setLogStartupInfo(false);
    app.setRegisterShutdownHook(false);
    Map<String, Object> props = new HashMap<>();
    props.put("spring.kafka.bootstrap-servers", env.kafka().bootstrapServers());
    props.put("spring.kafka.producer.client-id", "bench-modulith-" + s.id());
    props.put("spring.kafka.producer.value-serializer", ByteArraySerializer.class.getName());
    props.put("spring.modulith.events.kafka.enable-json", "false");
    props.put("spring.modulith.events.jdbc.schema-initialization.enabled", "true");
    if (s.lingerMs() != null) {
      props.put("spring.kafka.producer.properties.linger.ms", s.lingerMs().toString());
    }
    app.setDefaultProperties(props);
    app.addInitializers(
        context -> {
          GenericApplicationContext g = (GenericApplicationContext) context;
          // not the pool itself: the context would close it, and the drain needs it for two contexts
          g.registerBean("dataSource", DataSource.class, () -> new DelegatingDataSource(pool));
          g.registerBean(EventExternalizationConfiguration.class, () -> externalization(topic));
          g.registerBean("kafkaProducerListener", Confirmations.class, () -> confirmations);
          if (dropTasks) {
            g.registerBean("taskExecutor", TaskExecutor.class, () -> task -> {});
          }
        });
    try {
      return app.run();
    } catch (RuntimeException e) {
      throw new IllegalStateException("the Spring Modulith application did not start: " + e, e);
    }
  }

  /** {@link OrderPlaced} goes to {@code topic} under its key, as its payload bytes. */
  private static EventExternalizationConfiguration externalization(String topic) {
    return EventExternalizationConfiguration.externalizing()
        .selectByType(OrderPlaced.class)
        .mapping(OrderPlaced.class, OrderPlaced::payload)
        .route(OrderPlaced.class, e -> RoutingTarget.forTarget(topic).andKey(e.key()))
        .build();
  }

  /** Publishes through Modulith in the writer's transaction, with the business row if {@code orderRow}. */
  private static void publish(ConfigurableApplicationContext app, TransactionTemplate tx, long orderId, byte[] payload, boolean orderRow) {
    DataSource ds = app.getBean(DataSource.class);
    tx.executeWithoutResult(
        status -> {
          if (orderRow) {
            Connection c = DataSourceUtils.getConnection(ds);
            try {
              BenchEvents.insertOrder(c, orderId);
            } catch (SQLException e) {
              throw new IllegalStateException("cannot insert order " + orderId + ": " + e.getMessage(), e);
            }
          }
          app.publishEvent(new OrderPlaced(BenchEvents.key(orderId), payload));
        });
  }

  private static TransactionTemplate transactions(ConfigurableApplicationContext app) {
    return new TransactionTemplate(app.getBean(PlatformTransactionManager.class));
  }

  static double drain(RunContext ctx, Setting s, int n, int payloadSize) {
    BenchEnvironment env = ctx.env();
    String topic = env.newTopic("mod-" + s.id());
    HikariDataSource pool = env.freshSchema("mod_" + s.id(), POOL_SIZE);
    try {
      Confirmations none = new Confirmations();
      try (ConfigurableApplicationContext filler = start(env, pool, topic, s, true, none)) {
        TransactionTemplate tx = transactions(filler);
        for (int from = 0; from < n; from += FILL_BATCH) {
          int to = Math.min(n, from + FILL_BATCH);
          int first = from;
          tx.executeWithoutResult(
              status -> {
                for (int i = first; i < to; i++) {
                  long orderId = BenchEvents.orderId(0, i);
                  filler.publishEvent(new OrderPlaced(BenchEvents.key(orderId), BenchEvents.payload(payloadSize, i)));
                }
              });
        }
      }
      long outstanding = incomplete(pool);
      if (outstanding != n || none.confirmed() != 0) {
        throw new IllegalStateException(
            "Modulith's backlog: " + outstanding + " incomplete publications and " + none.confirmed() + " records sent, expected " + n + " and 0");
      }
      BenchEnvironment.vacuumAnalyze(pool, "event_publication");
      Confirmations confirmations = new Confirmations();
      long took;
      try (ConfigurableApplicationContext app = start(env, pool, topic, s, false, confirmations)) {
        @SuppressWarnings("unchecked")
        KafkaOperations<Object, Object> kafka = app.getBean(KafkaOperations.class);
        // the producer connected and the topic's metadata fetched, as for Courier's drain
        kafka.send(topic, "warm-up", new byte[8]).get(30, TimeUnit.SECONDS);
        // the listener counts right after the future completes, so the count may lag the get()
        awaitConfirmed(confirmations, 1);
        long base = confirmations.confirmed();
        if (base != 1) {
          throw new IllegalStateException("Modulith sent " + (base - 1) + " records before the resubmission");
        }
        ProducerFactory<?, ?> producers = app.getBean(ProducerFactory.class);
        log.info(
            "Modulith's task executor: {}; producer linger.ms: {}",
            describeExecutor(app),
            producers.getConfigurationProperties().getOrDefault("linger.ms", "Kafka's default"));
        IncompleteEventPublications publications = app.getBean(IncompleteEventPublications.class);
        env.checkpoint();
        long start = System.nanoTime();
        publications.resubmitIncompletePublications(p -> true);
        long submitted = System.nanoTime() - start;
        long deadline = start + TimeUnit.SECONDS.toNanos(Math.max(600, n / 20));
        while (confirmations.confirmed() - base < n) {
          confirmations.failIfAnyFailed();
          if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException("Modulith confirmed " + (confirmations.confirmed() - base) + " of " + n + " before the deadline");
          }
          Thread.sleep(1);
        }
        while (incomplete(pool) > 0) {
          if (System.nanoTime() - deadline > 0) {
            throw new IllegalStateException("Modulith left " + incomplete(pool) + " publications incomplete");
          }
          Thread.sleep(1);
        }
        took = System.nanoTime() - start;
        confirmations.failIfAnyFailed();
        if (confirmations.confirmed() - base != n) {
          throw new IllegalStateException("Modulith sent " + (confirmations.confirmed() - base) + " records for a backlog of " + n);
        }
        log.info(
            "Modulith ({}) drained {} publications of {} B in {} ms (resubmission returned after {} ms)",
            s.id(), n, payloadSize, took / 1_000_000, submitted / 1_000_000);
      }
      long completed = BenchEnvironment.count(pool, "SELECT count(*) FROM event_publication WHERE completion_date IS NOT NULL");
      if (completed != n) {
        throw new IllegalStateException("Modulith: " + completed + " of " + n + " publications completed after the drain");
      }
      return n / (took / 1e9);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (Exception e) {
      throw e instanceof IllegalStateException ise ? ise : new IllegalStateException("Modulith drain failed: " + e, e);
    } finally {
      env.discard(pool);
    }
  }

  static Histogram endToEnd(RunContext ctx, Setting s) {
    BenchEnvironment env = ctx.env();
    BenchOptions o = ctx.options();
    String topic = env.newTopic("mod-e2e-" + s.id());
    HikariDataSource pool = env.freshSchema("mod_e2e_" + s.id(), POOL_SIZE);
    Confirmations confirmations = new Confirmations();
    try (ConfigurableApplicationContext app = start(env, pool, topic, s, false, confirmations);
        ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic)) {
      TransactionTemplate tx = transactions(app);
      ArrivalClock.Writer writer = (i, due, payload) -> publish(app, tx, BenchEvents.orderId(8, i), payload, true);
      writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
      clock.awaitArrived(1, Duration.ofSeconds(60));
      Histogram h = clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
      // every event arrived (run waits for it); every publication must also be marked completed
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (incomplete(pool) > 0) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException("Modulith left " + incomplete(pool) + " publications incomplete after the end-to-end run");
        }
        Thread.sleep(10);
      }
      confirmations.failIfAnyFailed();
      long rows = BenchEnvironment.count(pool, "SELECT count(*) FROM event_publication");
      if (rows != clock.arrived() || confirmations.confirmed() != rows) {
        throw new IllegalStateException(
            "Modulith: " + rows + " publications, " + confirmations.confirmed() + " records confirmed, " + clock.arrived() + " arrived");
      }
      return h;
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("Modulith end-to-end run failed: " + e, e);
    } finally {
      env.discard(pool);
    }
  }

  private static void awaitConfirmed(Confirmations confirmations, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (confirmations.confirmed() < n) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("Modulith: only " + confirmations.confirmed() + " of " + n + " records counted within 30 s");
      }
      Thread.sleep(1);
    }
  }

  private static String describeExecutor(ConfigurableApplicationContext app) {
    StringBuilder out = new StringBuilder();
    app.getBeansOfType(Executor.class)
        .forEach(
            (name, executor) -> {
              out.append(name).append('=').append(executor.getClass().getSimpleName());
              if (executor instanceof ThreadPoolTaskExecutor t) {
                out.append(" (core ").append(t.getCorePoolSize()).append(", max ").append(t.getMaxPoolSize())
                    .append(", queue ").append(t.getQueueCapacity()).append(')');
              }
              out.append(' ');
            });
    return out.toString().trim();
  }

  private static long incomplete(DataSource pool) {
    return BenchEnvironment.count(pool, "SELECT count(*) FROM event_publication WHERE completion_date IS NULL");
  }
}
