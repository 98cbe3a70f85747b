package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import javax.sql.DataSource;

import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

class LocalDatabaseTest {

    private final LocalDatabase database = LocalDatabase.shared();

    @Test
    void sharedDatabase_givesAWorkingConnection() throws Exception {
        try (Connection connection = database.dataSource().getConnection()) {
            assertThat(queryStrings(connection, "SELECT 1")).containsExactly("1");
        }
        assertThat(database.description()).contains("PostgreSQL " + database.serverVersion());
        assertThat(LocalDatabase.shared()).isSameAs(database);
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
        assertThat(LocalDatabase.uniqueSchemaName("Outbox Relay-Test")).matches("outbox_relay_test_[0-9a-f]{12}");
        assertThat(LocalDatabase.uniqueSchemaName("42")).matches("s_42_[0-9a-f]{12}");
        assertThat(LocalDatabase.uniqueSchemaName("x".repeat(100))).hasSize(40 + 1 + 12);
    }

    @Test
    void dropSchema_refusesToDropSchemasItDidNotMake() {
        assertThatThrownBy(() -> database.dropSchema("public")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> database.dropSchema("pg_catalog")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void embeddedDatabase_startsAndServesQueries_evenWhenRunAsRoot() throws Exception {
        LocalDatabase embedded = LocalDatabase.startEmbedded();
        try {
            assertThat(embedded.source()).isEqualTo(LocalDatabase.Source.EMBEDDED);
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

    @Test
    void serverNamedByTheEnvironment_whenItDoesNotAnswer_isUnavailable_namingItAndHowToFixIt() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            closedPort = socket.getLocalPort();
        }
        String url = "jdbc:postgresql://127.0.0.1:" + closedPort + "/orders?connectTimeout=2";

        assertThatThrownBy(() -> LocalDatabase.connect(Map.of(LocalDatabase.URL_ENV, url)))
                .isInstanceOfSatisfying(LocalDatabase.UnavailableException.class, e -> {
                    assertThat(e.what()).startsWith("PostgreSQL at jdbc:postgresql://127.0.0.1:" + closedPort
                            + "/orders (" + LocalDatabase.URL_ENV + ")");
                    assertThat(e.how()).isEqualTo("start that server, or unset " + LocalDatabase.URL_ENV
                            + " to use the local or an embedded one");
                    assertThat(e.getMessage()).isEqualTo(e.what() + " is not available; " + e.how());
                    assertThat(e.getCause()).isInstanceOf(SQLException.class);
                });
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
