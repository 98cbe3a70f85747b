package dev.courier;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
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
}
