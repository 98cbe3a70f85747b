package dev.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CourierTablesTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "outbox; DROP TABLE users",
        "outbox--",
        "\"quoted\"",
        "1outbox",
        "a.b.c",
        "out box",
        "select",
        "",
        "sch.table)",
        "tbl\u0000"
      })
  void tableName_outsideTheAllowList_isRejectedWithTheSettingName(String name) {
    assertThatThrownBy(() -> new CourierTables(name, "p", "d"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("tables.outbox:");
  }

  @Test
  void tableName_tooLong_isRejected() {
    assertThatThrownBy(() -> CourierTables.validate("t", "x".repeat(64)))
        .hasMessageContaining("at most 63");
  }

  @Test
  void schemaQualifiedNames_areAccepted() {
    CourierTables t = CourierTables.DEFAULT.inSchema("billing");
    assertThat(t.outbox()).isEqualTo("billing.courier_outbox");
    assertThat(t.processedEvents()).isEqualTo("billing.courier_processed_events");
  }

  @Test
  void schemaRendering_fillsEveryPlaceholder() {
    CourierTables t = new CourierTables("app.my_outbox", "app.my_ledger", "app.my_dlq");
    String sql = Schema.render(Dialect.POSTGRESQL, t);
    assertThat(sql).doesNotContain("${").contains("CREATE TABLE IF NOT EXISTS app.my_outbox");
    assertThat(sql).contains("my_outbox_pending_ix").contains("app.my_ledger").contains("app.my_dlq");
    assertThat(Schema.statements(Dialect.POSTGRESQL, t)).hasSizeGreaterThanOrEqualTo(8)
        .allSatisfy(s -> assertThat(s).doesNotEndWith(";"));
  }

  @Test
  void dialect_forUnknownProduct_explainsWhatIsSupported() {
    assertThatThrownBy(() -> Dialect.forProduct("Oracle"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("PostgreSQL");
    assertThat(Dialect.forProduct("PostgreSQL")).isSameAs(Dialect.POSTGRESQL);
  }
}
