package dev.courier.kafka;

import dev.courier.Event;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The main class of the child JVMs that {@link TransactionalProcessorCrashTest} kills with SIGKILL:
 * runs a {@link KafkaTransactionalProcessor} until the process is killed.
 *
 * <p>Arguments are {@code name=value} pairs: {@code bootstrap}, {@code group}, {@code
 * transactionalId}, {@code input}, {@code output}, {@code deadLetters}; optionally {@code delayMs}
 * (a pause per input, so that a kill lands mid-transaction), {@code stallAt} (the transform call,
 * counted from 1, that blocks forever after its database writes, so that a kill lands between the
 * database commit and the Kafka commit), and {@code jdbcUrl} with {@code dbUser}: then each input
 * also writes two rows to the {@code effects} table, one on its own (consumer {@code unguarded})
 * and one through the processed-events ledger (consumer {@code guarded}). A database password, if
 * one is needed, comes from the environment variable {@value #PASSWORD_ENV}, never from the command
 * line.
 */
public final class TransactionalProcessorChild {
  static final String PASSWORD_ENV = "COURIER_CHILD_DB_PASSWORD";
  static final String UNGUARDED = "unguarded";
  static final String GUARDED = "guarded";

  private TransactionalProcessorChild() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      a.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    long delayMs = Long.parseLong(a.getOrDefault("delayMs", "0"));
    long stallAt = Long.parseLong(a.getOrDefault("stallAt", "0"));
    String output = a.get("output");
    PGSimpleDataSource db = null;
    IdempotentProcessor ledger = null;
    if (a.containsKey("jdbcUrl")) {
      db = new PGSimpleDataSource();
      db.setUrl(a.get("jdbcUrl"));
      db.setUser(a.get("dbUser"));
      String password = System.getenv(PASSWORD_ENV);
      if (password != null) {
        db.setPassword(password);
      }
      ledger =
          IdempotentProcessor.builder(GUARDED, db, DeliveryFixture.recordingEffect(GUARDED))
              .build();
    }
    PGSimpleDataSource database = db;
    IdempotentProcessor guarded = ledger;
    AtomicLong calls = new AtomicLong();
    KafkaTransactionalProcessor.Transform transform =
        input -> {
          long call = calls.incrementAndGet();
          if (database != null) {
            // Committed at once, outside the Kafka transaction: repeated if the input is.
            try (Connection c = database.getConnection()) {
              DeliveryFixture.recordingEffect(UNGUARDED).handle(input, c);
            }
            // Committed together with a ledger row: a repeat is recognised as a duplicate.
            HandleOutcome outcome = guarded.process(input, 1, "child");
            if (!outcome.acknowledge()) {
              throw new IllegalStateException("guarded effect not recorded: " + outcome);
            }
          }
          if (call == stallAt) {
            try (Connection c = database.getConnection();
                PreparedStatement ps =
                    c.prepareStatement("INSERT INTO child_markers (name) VALUES ('stalled')")) {
              ps.executeUpdate();
            }
            System.out.println("stalled at transform call " + call + " before the Kafka commit");
            new CountDownLatch(1).await();
          }
          if (delayMs > 0) {
            Thread.sleep(delayMs);
          }
          return List.of(
              Event.builder("OrderEnriched")
                  .destination(output)
                  .key(input.key())
                  .payload(new String(input.payload(), StandardCharsets.UTF_8) + " enriched"),
              Event.builder("OrderAudited").destination(output).key(input.key()));
        };
    KafkaTransactionalProcessor processor =
        KafkaTransactionalProcessor.builder()
            .bootstrapServers(a.get("bootstrap"))
            .groupId(a.get("group"))
            .transactionalId(a.get("transactionalId"))
            .topics(a.get("input"))
            .deadLetterTopic(a.get("deadLetters"))
            .transform(transform)
            .pollTimeout(Duration.ofMillis(100))
            .consumerProperty("fetch.max.wait.ms", 50)
            // Static membership under the same stable id: the restarted instance takes the killed
            // one's place in the group at once, instead of after its session times out (45 s).
            .consumerProperty("group.instance.id", a.get("transactionalId"))
            .build();
    processor.start();
    System.out.println("processor started");
    new CountDownLatch(1).await(); // until killed
  }
}
