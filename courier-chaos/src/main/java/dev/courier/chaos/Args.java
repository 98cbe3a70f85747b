package dev.courier.chaos;

import java.util.HashMap;
import java.util.Map;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.postgresql.ds.PGSimpleDataSource;

/** The {@code name=value} arguments of the chaos child JVMs, and the database pool they build from them. */
final class Args {

    /** Environment variable with the database password, if one is needed: never on a command line. */
    static final String PASSWORD_ENV = "COURIER_CHAOS_DB_PASSWORD";

    private final Map<String, String> values = new HashMap<>();

    Args(String[] args) {
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("expected name=value, got " + arg);
            }
            values.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
    }

    String get(String name) {
        String value = values.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing argument " + name + "=...");
        }
        return value;
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    long getLong(String name, long fallback) {
        return values.containsKey(name) ? Long.parseLong(values.get(name)) : fallback;
    }

    /**
     * A small pool on {@code jdbcUrl} (which selects the schema) as {@code dbUser}, tagged with
     * {@code applicationName} so that a scenario can find, and terminate, exactly this process's backends.
     */
    HikariDataSource pool(int size) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(get("jdbcUrl"));
        String user = get("dbUser", "");
        if (!user.isEmpty()) {
            ds.setUser(user);
        }
        String password = System.getenv(PASSWORD_ENV);
        if (password != null) {
            ds.setPassword(password);
        }
        ds.setApplicationName(get("applicationName"));
        // a blackholed connection must fail, not hang: reads time out, connects too
        ds.setSocketTimeout((int) getLong("socketTimeoutSeconds", 10));
        ds.setConnectTimeout(5);
        HikariConfig config = new HikariConfig();
        config.setDataSource(ds);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000);
        config.setValidationTimeout(3_000);
        config.setPoolName(get("applicationName"));
        // never fail at start because the database is unreachable for a moment: the first borrow retries
        config.setInitializationFailTimeout(-1);
        return new HikariDataSource(config);
    }
}
