package dev.courier;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.courier.deadletter.DeadLetterReason;
import dev.courier.inbox.IdempotentProcessor;
import org.junit.jupiter.api.Test;

/** Keeps the core free of adapters: brokers, servers and test engines plug in from outside. */
class ArchitectureTest {
  private final JavaClasses core =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("dev.courier");

  @Test
  void core_dependsOnNoBrokerClient() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.apache.kafka..", "com.rabbitmq..", "io.nats..")
        .check(core);
  }

  @Test
  void core_dependsOnNoOtherCourierModule() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.courier.kafka..",
            "dev.courier.server..",
            "dev.courier.embedded..",
            "dev.courier.testkit..")
        .check(core);
  }

  @Test
  void onlyTheTracingBridgeTouchesOpenTelemetry_soTheApiStaysOptional() {
    noClasses()
        .that()
        .doNotHaveFullyQualifiedName("dev.courier.tracing.OtelBridge")
        .and()
        .haveNameNotMatching("dev\\.courier\\.tracing\\.OtelBridge\\$.*")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.opentelemetry..")
        .check(core);
  }

  @Test
  void onlyTheWakeupListenerUsesThePostgresDriverApi() {
    noClasses()
        .that()
        .doNotHaveSimpleName("PgWakeups")
        .and()
        .resideOutsideOfPackage("dev.courier.relay")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("org.postgresql..")
        .check(core);
  }

  /**
   * The two places where the transport contract still names a type of another package: {@code
   * Transport.subscribe} takes the {@code IdempotentProcessor} a subscription feeds, and an
   * undecodable message carries its {@code DeadLetterReason}. No other dependency may close a
   * cycle or leave {@code spi}.
   */
  private static final DescribedPredicate<JavaClass> KNOWN_SPI_DEBTS =
      JavaClass.Predicates.belongToAnyOf(IdempotentProcessor.class, DeadLetterReason.class);

  @Test
  void packages_formNoCycles() {
    slices()
        .matching("dev.courier.(*)..")
        .should()
        .beFreeOfCycles()
        .ignoreDependency(JavaClass.Predicates.resideInAPackage("dev.courier.spi.."), KNOWN_SPI_DEBTS)
        .check(core);
  }

  /** The contract a transport implements names only the root package's types (and shared plumbing). */
  @Test
  void spi_dependsOnNothingButTheRootPackage() {
    noClasses()
        .that()
        .resideInAPackage("dev.courier.spi..")
        .should()
        .dependOnClassesThat(
            JavaClass.Predicates.resideInAnyPackage(
                    "dev.courier.admin..",
                    "dev.courier.deadletter..",
                    "dev.courier.inbox..",
                    "dev.courier.jdbc..",
                    "dev.courier.metrics..",
                    "dev.courier.outbox..",
                    "dev.courier.relay..",
                    "dev.courier.retry..",
                    "dev.courier.tracing..")
                .and(DescribedPredicate.not(KNOWN_SPI_DEBTS)))
        .check(core);
  }

  @Test
  void deadLetters_doNotReachIntoTheInbox() {
    noClasses()
        .that()
        .resideInAPackage("dev.courier.deadletter..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("dev.courier.inbox..")
        .check(core);
  }
}
