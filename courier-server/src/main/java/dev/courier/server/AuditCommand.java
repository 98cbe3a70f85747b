package dev.courier.server;

import dev.courier.admin.AuditEntry;
import dev.courier.admin.AuditLog;
import dev.courier.server.admin.AdminJson;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code courier audit}: the latest operator changes, newest first. */
@Command(
    name = "audit",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = "Show the latest operator changes (who, when, what, why), newest first.")
final class AuditCommand extends AdminCommand {
  @Option(names = "--limit", paramLabel = "N", defaultValue = "50", description = "At most N entries, 1 to 1000 (default ${DEFAULT-VALUE}).")
  int limit;

  @Override
  int run(Context ctx, PrintWriter out) {
    List<AuditEntry> entries = new AuditLog(ctx.tables()).latest(ctx.dataSource(), limit);
    if (json) {
      printJson(out, AdminJson.audit(entries));
    } else if (entries.isEmpty()) {
      out.println("no operator changes recorded");
    } else {
      TextTable t = new TextTable(60, "AT", "OPERATOR", "ACTION", "AFFECTED", "REPLAY ID", "REASON", "TARGET");
      for (AuditEntry e : entries) {
        t.row(e.at(), e.operator(), e.action(), e.affected(), e.replayId(), e.reason(), e.target());
      }
      t.print(out);
    }
    return 0;
  }
}
