package dev.courier.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.SQLTransientConnectionException;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A benchmark pool that cannot get a connection must say who holds the server's connections: a
 * smoke run in CI once waited three minutes for connections held by other processes and reported
 * only the pool's own state.
 */
class ConnectionUsageTest {

  @Test
  void anExhaustedPool_isReportedWithTheServersConnectionsByApplication() throws Exception {
    DataSource db = TestDatabase.shared().dataSource();
    HikariConfig config = new HikariConfig();
    config.setDataSource(db);
    config.setMaximumPoolSize(1);
    config.setConnectionTimeout(250);
    config.setPoolName("usage-test");
    try (HikariDataSource pool = new HikariDataSource(config);
        Connection held = pool.getConnection()) {
      assertThat(held.isValid(1)).isTrue();
      assertThatThrownBy(pool::getConnection)
          .as("a pool of one has no second connection")
          .isInstanceOf(SQLTransientConnectionException.class);

      String usage = BenchEnvironment.connectionUsage(pool);

      assertThat(usage)
          .matches("the server has [1-9][0-9]* client connections of max_connections [1-9][0-9]*: .+")
          .contains(" active x", "idle");
    }
  }
}
