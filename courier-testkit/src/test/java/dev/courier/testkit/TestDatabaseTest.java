package dev.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import javax.sql.DataSource;

import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

class TestDatabaseTest {

    private final TestDatabase database = TestDatabase.shared();

    @Test
    void sharedDatabase_givesAWorkingConnection() throws Exception {
        try (Connection connection = database.dataSource().getConnection()) {
            assertThat(queryStrings(connection, "SELECT 1")).containsExactly("1");
        }
        assertThat(database.description()).contains("PostgreSQL " + database.serverVersion());
        assertThat(TestDatabase.shared()).isSameAs(database);
    }

    @Test
    void freshSchema_isolatesTablesOfOneTestFromAnother() throws Exception {
        PGSimpleDataSource first = database.freshSchema("isolation");
        PGSimpleDataSource second = database.freshSchema("isolation");
        try {
            assertThat(first.getCurrentSchema()).startsWith("isolation_").isNotEqualTo(second.getCurrentSchema());
            execute(first, "CREATE TABLE items (name text)", "INSERT INTO items VALUES ('first')");
            execute(second, "CREATE TABLE items (name text)", "INSERT INTO items VALUES ('second')");

            try (Connection connection = first.getConnection()) {
                assertThat(queryStrings(connection, "SELECT name FROM items")).containsExactly("first");
                assertThat(queryStrings(connection, "SELECT current_schema()"))
                        .containsExactly(first.getCurrentSchema());
            }
            try (Connection connection = second.getConnection()) {
                assertThat(queryStrings(connection, "SELECT name FROM items")).containsExactly("second");
            }
        } finally {
            database.dropSchema(first);
            database.dropSchema(second.getCurrentSchema());
        }
        assertThat(schemaExists(first.getCurrentSchema())).isFalse();
        assertThat(schemaExists(second.getCurrentSchema())).isFalse();
    }

    @Test
    void freshSchema_url_selectsTheSchemaForPlainJdbc() throws Exception {
        PGSimpleDataSource schema = database.freshSchema("by url");
        try {
            Properties credentials = new Properties();
            if (database.user() != null) {
                credentials.setProperty("user", database.user());
            }
            if (database.password() != null) {
                credentials.setProperty("password", database.password());
            }
            try (Connection connection = DriverManager.getConnection(schema.getUrl(), credentials)) {
                assertThat(queryStrings(connection, "SELECT current_schema()"))
                        .containsExactly(schema.getCurrentSchema());
            }
        } finally {
            database.dropSchema(schema);
        }
    }

    @Test
    void uniqueSchemaName_isAPlainLowerCaseIdentifier() {
        assertThat(TestDatabase.uniqueSchemaName("Outbox Relay-Test")).matches("outbox_relay_test_[0-9a-f]{12}");
        assertThat(TestDatabase.uniqueSchemaName("42")).matches("s_42_[0-9a-f]{12}");
        assertThat(TestDatabase.uniqueSchemaName("x".repeat(100))).hasSize(40 + 1 + 12);
    }

    @Test
    void dropSchema_refusesToDropSchemasItDidNotMake() {
        assertThatThrownBy(() -> database.dropSchema("public")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> database.dropSchema("pg_catalog")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void embeddedDatabase_startsAndServesQueries_evenWhenRunAsRoot() throws Exception {
        TestDatabase embedded = TestDatabase.startEmbedded();
        try {
            assertThat(embedded.source()).isEqualTo(TestDatabase.Source.EMBEDDED);
            assertThat(embedded.description()).startsWith("embedded PostgreSQL ").contains("(zonky)");
            PGSimpleDataSource schema = embedded.freshSchema("embedded");
            execute(schema, "CREATE TABLE t (n int)", "INSERT INTO t VALUES (7)");
            try (Connection connection = schema.getConnection()) {
                assertThat(queryStrings(connection, "SELECT n FROM t")).containsExactly("7");
                assertThat(queryStrings(connection, "SHOW synchronous_commit"))
                        .as("a commit is acknowledged only once flushed, as on a production server")
                        .containsExactly("on");
                assertThat(queryStrings(connection, "SHOW fsync")).containsExactly("on");
            }
        } finally {
            embedded.stopEmbedded();
        }
    }

    private boolean schemaExists(String schema) throws SQLException {
        try (Connection connection = database.dataSource().getConnection()) {
            return !queryStrings(connection,
                    "SELECT schema_name FROM information_schema.schemata WHERE schema_name = '" + schema + "'")
                    .isEmpty();
        }
    }

    private static void execute(DataSource dataSource, String... statements) throws SQLException {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }

    private static List<String> queryStrings(Connection connection, String sql) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet result = statement.executeQuery(sql)) {
            while (result.next()) {
                values.add(result.getString(1));
            }
        }
        return values;
    }
}
