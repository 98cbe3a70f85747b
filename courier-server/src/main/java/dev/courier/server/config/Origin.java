package dev.courier.server.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a configuration value came from. Every error about a value names its origin, so that a
 * wrong value can be found and fixed where it was set.
 */
public sealed interface Origin {

  /** Precedence: a value from a higher-ranked origin replaces one from a lower-ranked origin. */
  int rank();

  /** A short description for messages, for example {@code env COURIER_RELAY_BATCH_SIZE}. */
  String describe();

  /** Courier's built-in default. */
  record Default() implements Origin {
    @Override
    public int rank() {
      return 0;
    }

    @Override
    public String describe() {
      return "default";
    }
  }

  /** A properties file given with {@code --config}. */
  record File(Path path) implements Origin {
    public File {
      Objects.requireNonNull(path, "path");
    }

    @Override
    public int rank() {
      return 1;
    }

    @Override
    public String describe() {
      return "file " + path;
    }
  }

  /** An environment variable. */
  record Env(String variable) implements Origin {
    public Env {
      Objects.requireNonNull(variable, "variable");
    }

    @Override
    public int rank() {
      return 2;
    }

    @Override
    public String describe() {
      return "env " + variable;
    }
  }

  /** A command-line option. */
  record Option(String name) implements Origin {
    public Option {
      Objects.requireNonNull(name, "name");
    }

    @Override
    public int rank() {
      return 3;
    }

    @Override
    public String describe() {
      return "option " + name;
    }
  }
}
