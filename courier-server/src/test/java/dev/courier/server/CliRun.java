package dev.courier.server;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;

/** The outcome of one in-process run of the command line. */
record CliRun(int exitCode, String out, String err) {

  static CliRun of(Map<String, String> environment, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        CourierCli.execute(
            environment, new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new CliRun(code, out.toString(), err.toString());
  }

  static CliRun of(String... args) {
    return of(Map.of(), args);
  }

  @Override
  public String toString() {
    return "exit " + exitCode + "\n--- out ---\n" + out + "--- err ---\n" + err;
  }
}
