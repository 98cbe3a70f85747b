package dev.courier.embedded;

import java.io.IOException;
import java.io.Serial;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

import javax.sql.DataSource;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL database to run on without setting one up, one per JVM, chosen in this order:
 *
 * <ol>
 *   <li>the server named by environment variable {@value #URL_ENV}, with {@value #USER_ENV} and
 *       {@value #PASSWORD_ENV} if they are set; if it cannot be reached, {@link UnavailableException} is thrown
 *       rather than some other database quietly used;</li>
 *   <li>the local server at {@value #LOCAL_URL} as user {@value #LOCAL_USER} without a password, if it answers
 *       within two seconds;</li>
 *   <li>an embedded PostgreSQL (zonky's binaries, unpacked under the temporary directory and started on a free
 *       port, with {@code synchronous_commit} and {@code fsync} on), stopped when the JVM exits.</li>
 * </ol>
 *
 * <p>Users isolate their tables with {@link #freshSchema(String)}, so they can share the one database. The test kit's
 * {@code TestDatabase} is this class for tests: it skips a test, or fails it on CI, when no database can be had.
 *
 * <pre>{@code
 * LocalDatabase db = LocalDatabase.shared();
 * PGSimpleDataSource schema = db.freshSchema("outbox");
 * try (Connection c = schema.getConnection()) { ... }   // unqualified names resolve in the fresh schema
 * db.dropSchema(schema);
 * }</pre>
 */
public final class LocalDatabase {

    /** Environment variable with the JDBC URL of a PostgreSQL server to use instead of the local or embedded one. */
    public static final String URL_ENV = "COURIER_DB_URL";
    /** Environment variable with the user for {@value #URL_ENV}; optional. */
    public static final String USER_ENV = "COURIER_DB_USER";
    /** Environment variable with the password for {@value #URL_ENV}; optional. */
    public static final String PASSWORD_ENV = "COURIER_DB_PASSWORD";
    /** The local server tried when {@value #URL_ENV} is not set. */
    public static final String LOCAL_URL = "jdbc:postgresql://127.0.0.1:5432/test";
    /** The user for {@link #LOCAL_URL}; it must be allowed in without a password (trust authentication). */
    public static final String LOCAL_USER = "postgres";

    /** Where the database comes from. */
    public enum Source {
        /** Named by {@value LocalDatabase#URL_ENV}. */
        ENVIRONMENT,
        /** The local server at {@value LocalDatabase#LOCAL_URL}. */
        LOCAL,
        /** An embedded server started by this JVM. */
        EMBEDDED
    }

    private static final Logger LOG = LoggerFactory.getLogger(LocalDatabase.class);
    private static final int PROBE_TIMEOUT_SECONDS = 2;
    private static final int CONNECT_TIMEOUT_SECONDS = 10;
    private static final int MAX_PREFIX_LENGTH = 40;
    private static final Set<String> PROTECTED_SCHEMAS = Set.of("public", "information_schema");

    private static LocalDatabase shared;

    private final Source source;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final String serverVersion;
    private final EmbeddedPostgres embedded;

    private LocalDatabase(Source source, String jdbcUrl, String user, String password, String serverVersion,
            EmbeddedPostgres embedded) {
        this.source = source;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.serverVersion = serverVersion;
        this.embedded = embedded;
    }

    /**
     * The JVM's database, found (or started) on first use.
     *
     * @throws UnavailableException  if no database can be had; the next call tries again
     * @throws IllegalStateException if the embedded server started but refuses connections
     */
    public static synchronized LocalDatabase shared() {
        if (shared == null) {
            shared = connect(System.getenv());
            LOG.info("Using {}", shared.description());
        }
        return shared;
    }

    /** Finds the database as {@link #shared()} does, from the given environment. */
    static LocalDatabase connect(Map<String, String> environment) {
        String url = environment.get(URL_ENV);
        if (url != null && !url.isBlank()) {
            return fromEnvironment(url.trim(), environment.get(USER_ENV), environment.get(PASSWORD_ENV));
        }
        LocalDatabase local = tryLocal();
        if (local != null) {
            return local;
        }
        return startEmbedded();
    }

    private static LocalDatabase fromEnvironment(String url, String user, String password) {
        String where = withoutParameters(url) + " (" + URL_ENV + ")";
        try {
            String version = probe(newDataSource(url, user, password, CONNECT_TIMEOUT_SECONDS));
            return new LocalDatabase(Source.ENVIRONMENT, url, user, password, version, null);
        } catch (SQLException e) {
            LOG.warn("Cannot connect to PostgreSQL at {}", where, e);
            throw new UnavailableException("PostgreSQL at " + where + " (" + e.getMessage() + ")",
                    "start that server, or unset " + URL_ENV + " to use the local or an embedded one", e);
        }
    }

    private static LocalDatabase tryLocal() {
        try {
            String version = probe(newDataSource(LOCAL_URL, LOCAL_USER, null, PROBE_TIMEOUT_SECONDS));
            return new LocalDatabase(Source.LOCAL, LOCAL_URL, LOCAL_USER, null, version, null);
        } catch (SQLException e) {
            LOG.info("No usable local PostgreSQL at {} ({}); starting an embedded one", LOCAL_URL, e.getMessage());
            return null;
        }
    }

    /**
     * Starts a private embedded server; {@link #shared()} keeps the one it starts until the JVM exits.
     *
     * @throws UnavailableException if the embedded server cannot be started
     */
    static LocalDatabase startEmbedded() {
        EmbeddedPostgres postgres;
        try {
            // zonky's binaries run as root as they are (unlike a stock initdb), so nothing special is needed here.
            // Its builder turns synchronous_commit off by default, so a crash could forget commits it had
            // acknowledged; Courier's guarantees assume a database that flushes before it acknowledges.
            postgres = EmbeddedPostgres.builder()
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("fsync", "on")
                    .start();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot start an embedded PostgreSQL", e);
            throw new UnavailableException("PostgreSQL", "a local server at " + LOCAL_URL + " (user " + LOCAL_USER
                    + ", trust authentication), or set " + URL_ENV + "; the embedded one failed: " + e, e);
        }
        String url = "jdbc:postgresql://127.0.0.1:" + postgres.getPort() + "/postgres";
        try {
            String version = probe(newDataSource(url, "postgres", null, CONNECT_TIMEOUT_SECONDS));
            return new LocalDatabase(Source.EMBEDDED, url, "postgres", null, version, postgres);
        } catch (SQLException e) {
            closeQuietly(postgres);
            throw new IllegalStateException("the embedded PostgreSQL started but refuses connections at " + url, e);
        }
    }

    /** Where the database comes from. */
    public Source source() {
        return source;
    }

    /** The JDBC URL of the database, without a schema. */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    /** The user to connect as, or {@code null} if the URL alone says. */
    public String user() {
        return user;
    }

    /** The password, or {@code null} if none is needed or the URL carries it. */
    public String password() {
        return password;
    }

    /** The server's version, such as {@code 15.20}. */
    public String serverVersion() {
        return serverVersion;
    }

    /**
     * Where the database comes from, for logs: {@code "local PostgreSQL 15.20 at 127.0.0.1:5432"} or
     * {@code "embedded PostgreSQL 14.22 (zonky) at 127.0.0.1:38211"}. Never contains a password.
     */
    public String description() {
        return switch (source) {
            case ENVIRONMENT -> "PostgreSQL " + serverVersion + " at " + withoutParameters(jdbcUrl) + " (" + URL_ENV
                    + ")";
            case LOCAL -> "local PostgreSQL " + serverVersion + " at 127.0.0.1:5432";
            case EMBEDDED -> "embedded PostgreSQL " + serverVersion + " (zonky) at 127.0.0.1:" + embedded.getPort();
        };
    }

    /**
     * A new data source for the database; its connections use the server's default search path. Each call returns a
     * new instance, so changing one affects no other test.
     */
    public DataSource dataSource() {
        return newDataSource(jdbcUrl, user, password, CONNECT_TIMEOUT_SECONDS);
    }

    /**
     * Creates a schema with a new unique name and returns a data source whose connections use it as their search
     * path ({@code currentSchema}), so that unqualified table names resolve in it.
     *
     * @param prefix the start of the schema's name, for people reading the database; characters other than ASCII
     *               letters, digits and underscores become underscores, and it is cut to 40 characters
     * @return a new data source; {@link PGSimpleDataSource#getCurrentSchema()} is the schema's name and
     *         {@link PGSimpleDataSource#getUrl()} a JDBC URL that selects it
     * @throws IllegalStateException if the schema cannot be created
     */
    public PGSimpleDataSource freshSchema(String prefix) {
        String schema = uniqueSchemaName(prefix);
        execute("CREATE SCHEMA " + quoteIdentifier(schema));
        PGSimpleDataSource dataSource = newDataSource(jdbcUrl, user, password, CONNECT_TIMEOUT_SECONDS);
        dataSource.setCurrentSchema(schema);
        return dataSource;
    }

    /**
     * Drops a schema and everything in it. Dropping a schema that does not exist does nothing.
     *
     * @param schema the name of a schema made by {@link #freshSchema(String)}
     * @throws IllegalArgumentException if the name is that of a system schema or {@code public}
     * @throws IllegalStateException    if the schema cannot be dropped
     */
    public void dropSchema(String schema) {
        Objects.requireNonNull(schema, "schema");
        if (PROTECTED_SCHEMAS.contains(schema) || schema.startsWith("pg_")) {
            throw new IllegalArgumentException("refusing to drop schema " + schema);
        }
        execute("DROP SCHEMA IF EXISTS " + quoteIdentifier(schema) + " CASCADE");
    }

    /**
     * Drops the schema of a data source returned by {@link #freshSchema(String)}, as {@link #dropSchema(String)}.
     */
    public void dropSchema(PGSimpleDataSource schemaDataSource) {
        String schema = schemaDataSource.getCurrentSchema();
        if (schema == null) {
            throw new IllegalArgumentException("the data source has no currentSchema; it is not from freshSchema");
        }
        dropSchema(schema);
    }

    @Override
    public String toString() {
        return description();
    }

    /** Stops an embedded server started by {@link #startEmbedded()}; does nothing for other sources. */
    void stopEmbedded() {
        if (embedded != null) {
            closeQuietly(embedded);
        }
    }

    static String uniqueSchemaName(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        StringBuilder name = new StringBuilder();
        for (char c : prefix.toLowerCase(Locale.ROOT).toCharArray()) {
            boolean plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            name.append(plain ? c : '_');
            if (name.length() == MAX_PREFIX_LENGTH) {
                break;
            }
        }
        // An unquoted identifier must start with a letter or underscore; keeping names plain spares every user from
        // quoting them.
        if (name.isEmpty() || Character.isDigit(name.charAt(0))) {
            name.insert(0, "s_");
        }
        String unique = UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        return name + "_" + unique;
    }

    private void execute(String sql) {
        try (Connection connection = dataSource().getConnection();
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot run '" + sql + "' on " + description() + ": " + e.getMessage(), e);
        }
    }

    private static String probe(PGSimpleDataSource dataSource) throws SQLException {
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement();
                ResultSet result = statement.executeQuery("SHOW server_version")) {
            result.next();
            // "15.20 (Debian 15.20-0+deb12u1)" -> "15.20"
            return result.getString(1).split("\\s+", 2)[0];
        }
    }

    private static PGSimpleDataSource newDataSource(String url, String user, String password, int timeoutSeconds) {
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(url);
        // Unset values are left alone rather than cleared, so that credentials given in the URL still apply.
        if (user != null) {
            dataSource.setUser(user);
        }
        if (password != null) {
            dataSource.setPassword(password);
        }
        dataSource.setConnectTimeout(timeoutSeconds);
        dataSource.setLoginTimeout(timeoutSeconds);
        dataSource.setApplicationName("courier-tests");
        return dataSource;
    }

    private static String quoteIdentifier(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    private static String withoutParameters(String url) {
        int query = url.indexOf('?');
        return query < 0 ? url : url.substring(0, query);
    }

    private static void closeQuietly(EmbeddedPostgres postgres) {
        try {
            postgres.close();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot stop the embedded PostgreSQL", e);
        }
    }

    /**
     * No database can be had: the server named by {@value #URL_ENV} does not answer, or neither the local server nor
     * an embedded one can be used. The message names both what is missing and how to provide it.
     */
    public static final class UnavailableException extends RuntimeException {

        @Serial
        private static final long serialVersionUID = 1L;

        private final String what;
        private final String how;

        /**
         * @param what  what is missing, for a person: {@code "PostgreSQL at jdbc:postgresql://db:5432/app"}
         * @param how   how to provide it: a server to start, or what to set
         * @param cause the underlying failure, or {@code null}
         */
        public UnavailableException(String what, String how, Throwable cause) {
            super(what + " is not available; " + how, cause);
            this.what = Objects.requireNonNull(what, "what");
            this.how = Objects.requireNonNull(how, "how");
        }

        /** What is missing, for a person: {@code "PostgreSQL at jdbc:postgresql://db:5432/app (COURIER_DB_URL)"}. */
        public String what() {
            return what;
        }

        /** How to provide it: a server to start, or what to set. */
        public String how() {
            return how;
        }
    }
}
