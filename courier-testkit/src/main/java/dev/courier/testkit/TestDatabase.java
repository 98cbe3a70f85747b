package dev.courier.testkit;

import java.util.function.Supplier;

import javax.sql.DataSource;

import org.postgresql.ds.PGSimpleDataSource;

import dev.courier.embedded.LocalDatabase;

/**
 * The PostgreSQL database that tests should use, one per JVM: {@link LocalDatabase}, chosen in its order:
 *
 * <ol>
 *   <li>the server named by environment variable {@value #URL_ENV}, with {@value #USER_ENV} and
 *       {@value #PASSWORD_ENV} if they are set; if it cannot be reached the test is skipped, or failed on CI (see
 *       {@link Servers}), rather than quietly tested against some other database;</li>
 *   <li>the local server at {@value #LOCAL_URL} as user {@value #LOCAL_USER} without a password, if it answers
 *       within two seconds;</li>
 *   <li>an embedded PostgreSQL (zonky's binaries, unpacked under the temporary directory and started on a free
 *       port), stopped when the JVM exits.</li>
 * </ol>
 *
 * <p>When no database can be had at all, the test is skipped, or failed on CI, as {@link Servers#require} does.
 *
 * <p>Tests isolate their tables with {@link #freshSchema(String)}, so they can share the one database and run in any
 * order.
 *
 * <pre>{@code
 * TestDatabase db = TestDatabase.shared();
 * PGSimpleDataSource schema = db.freshSchema("outbox");
 * try (Connection c = schema.getConnection()) { ... }   // unqualified names resolve in the fresh schema
 * db.dropSchema(schema);
 * }</pre>
 */
public final class TestDatabase {

    /** Environment variable with the JDBC URL of a PostgreSQL server to use instead of the local or embedded one. */
    public static final String URL_ENV = LocalDatabase.URL_ENV;
    /** Environment variable with the user for {@value #URL_ENV}; optional. */
    public static final String USER_ENV = LocalDatabase.USER_ENV;
    /** Environment variable with the password for {@value #URL_ENV}; optional. */
    public static final String PASSWORD_ENV = LocalDatabase.PASSWORD_ENV;
    /** The local server tried when {@value #URL_ENV} is not set. */
    public static final String LOCAL_URL = LocalDatabase.LOCAL_URL;
    /** The user for {@link #LOCAL_URL}; it must be allowed in without a password (trust authentication). */
    public static final String LOCAL_USER = LocalDatabase.LOCAL_USER;

    /** Where the database comes from; the same constants as {@link LocalDatabase.Source}. */
    public enum Source {
        /** Named by {@value TestDatabase#URL_ENV}. */
        ENVIRONMENT,
        /** The local server at {@value TestDatabase#LOCAL_URL}. */
        LOCAL,
        /** An embedded server started by this JVM. */
        EMBEDDED;

        static Source of(LocalDatabase.Source source) {
            return valueOf(source.name());
        }
    }

    private static TestDatabase shared;

    private final LocalDatabase database;

    private TestDatabase(LocalDatabase database) {
        this.database = database;
    }

    /**
     * The JVM's database, found (or started) on first use.
     *
     * @throws org.opentest4j.TestAbortedException if no database can be had and this is not CI; the next call tries
     *                                             again
     * @throws AssertionError                      if no database can be had and this is CI
     */
    public static synchronized TestDatabase shared() {
        if (shared == null) {
            shared = require(LocalDatabase::shared);
        }
        return shared;
    }

    /**
     * Gets the database from {@code finder}, turning its {@link LocalDatabase.UnavailableException} into a skipped
     * test, or a failed one on CI, as {@link #shared()} does.
     */
    static TestDatabase require(Supplier<LocalDatabase> finder) {
        try {
            return new TestDatabase(finder.get());
        } catch (LocalDatabase.UnavailableException e) {
            Servers.require(e.what(), false, e.how());
            throw new AssertionError("unreachable", e);
        }
    }

    /** The database this one delegates to. */
    LocalDatabase localDatabase() {
        return database;
    }

    /** Where the database comes from. */
    public Source source() {
        return Source.of(database.source());
    }

    /** The JDBC URL of the database, without a schema. */
    public String jdbcUrl() {
        return database.jdbcUrl();
    }

    /** The user to connect as, or {@code null} if the URL alone says. */
    public String user() {
        return database.user();
    }

    /** The password, or {@code null} if none is needed or the URL carries it. */
    public String password() {
        return database.password();
    }

    /** The server's version, such as {@code 15.20}. */
    public String serverVersion() {
        return database.serverVersion();
    }

    /**
     * Where the database comes from, for logs: {@code "local PostgreSQL 15.20 at 127.0.0.1:5432"} or
     * {@code "embedded PostgreSQL 14.22 (zonky) at 127.0.0.1:38211"}. Never contains a password.
     */
    public String description() {
        return database.description();
    }

    /** As {@link LocalDatabase#dataSource()}: a new data source using the server's default search path. */
    public DataSource dataSource() {
        return database.dataSource();
    }

    /**
     * As {@link LocalDatabase#freshSchema(String)}: creates a schema with a new unique name and returns a data source
     * whose connections use it as their search path.
     */
    public PGSimpleDataSource freshSchema(String prefix) {
        return database.freshSchema(prefix);
    }

    /** As {@link LocalDatabase#dropSchema(String)}: drops a schema and everything in it. */
    public void dropSchema(String schema) {
        database.dropSchema(schema);
    }

    /** As {@link LocalDatabase#dropSchema(PGSimpleDataSource)}: drops the schema of a fresh-schema data source. */
    public void dropSchema(PGSimpleDataSource schemaDataSource) {
        database.dropSchema(schemaDataSource);
    }

    @Override
    public String toString() {
        return database.toString();
    }
}
