package dev.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;
import org.postgresql.ds.PGSimpleDataSource;

import dev.courier.embedded.LocalDatabase;

/** What {@link TestDatabase} adds to {@link LocalDatabase}; the database's own behaviour is tested in its module. */
class TestDatabaseTest {

    private final TestDatabase database = TestDatabase.shared();

    @Test
    void shared_isTheJvmsLocalDatabase_givingAWorkingConnection() throws Exception {
        LocalDatabase local = LocalDatabase.shared();

        assertThat(TestDatabase.shared()).isSameAs(database);
        assertThat(database.localDatabase()).isSameAs(local);
        assertThat(database.source().name()).isEqualTo(local.source().name());
        assertThat(database.jdbcUrl()).isEqualTo(local.jdbcUrl());
        assertThat(database.user()).isEqualTo(local.user());
        assertThat(database.password()).isEqualTo(local.password());
        assertThat(database.description()).isEqualTo(local.description())
                .contains("PostgreSQL " + database.serverVersion());
        try (Connection connection = database.dataSource().getConnection();
                Statement statement = connection.createStatement();
                ResultSet result = statement.executeQuery("SELECT 1")) {
            assertThat(result.next()).isTrue();
            assertThat(result.getInt(1)).isEqualTo(1);
        }
    }

    @Test
    void freshSchema_andDropSchema_reachTheDatabase() throws Exception {
        PGSimpleDataSource schema = database.freshSchema("wrapper");
        try {
            assertThat(schema.getCurrentSchema()).startsWith("wrapper_");
            try (Connection connection = schema.getConnection();
                    Statement statement = connection.createStatement();
                    ResultSet result = statement.executeQuery("SELECT current_schema()")) {
                assertThat(result.next()).isTrue();
                assertThat(result.getString(1)).isEqualTo(schema.getCurrentSchema());
            }
        } finally {
            database.dropSchema(schema);
        }
        assertThatThrownBy(() -> database.dropSchema("public")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void constants_areLocalDatabases() {
        assertThat(TestDatabase.URL_ENV).isEqualTo(LocalDatabase.URL_ENV);
        assertThat(TestDatabase.USER_ENV).isEqualTo(LocalDatabase.USER_ENV);
        assertThat(TestDatabase.PASSWORD_ENV).isEqualTo(LocalDatabase.PASSWORD_ENV);
        assertThat(TestDatabase.LOCAL_URL).isEqualTo(LocalDatabase.LOCAL_URL);
        assertThat(TestDatabase.LOCAL_USER).isEqualTo(LocalDatabase.LOCAL_USER);
        for (LocalDatabase.Source source : LocalDatabase.Source.values()) {
            assertThat(TestDatabase.Source.of(source).name()).isEqualTo(source.name());
        }
        assertThat(TestDatabase.Source.values()).hasSameSizeAs(LocalDatabase.Source.values());
    }

    @Test
    void require_whenNoDatabaseCanBeHad_skipsTheTest_orFailsItOnCi_namingWhatIsMissingAndHowToFixIt() {
        LocalDatabase.UnavailableException unavailable = new LocalDatabase.UnavailableException(
                "PostgreSQL at jdbc:postgresql://db.invalid:5432/orders (COURIER_DB_URL)",
                "start that server, or unset COURIER_DB_URL", new SQLException("connection refused"));

        assertThatThrownBy(() -> TestDatabase.require(() -> {
            throw unavailable;
        }))
                .isInstanceOf(Servers.isCi() ? AssertionError.class : TestAbortedException.class)
                .hasMessageContaining("PostgreSQL at jdbc:postgresql://db.invalid:5432/orders (COURIER_DB_URL) is not"
                        + " reachable")
                // "start it with" when skipped, "Start it with" when failed on CI
                .satisfies(e -> assertThat(e.getMessage())
                        .containsIgnoringCase("start it with: start that server, or unset COURIER_DB_URL"));
    }
}
