package dev.courier.server;

import dev.courier.admin.Retention;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.config.CourierConfig;
import dev.courier.server.config.Setting;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code courier prune}: removes ledger rows, published outbox rows and archived events past their
 * horizons ({@code courier.retention.*}). Deduplication holds only inside the ledger's horizon.
 */
@Command(
    name = "prune",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Prune the processed-events ledger, published outbox rows (moved to the archive) and the",
      "archive past their horizons (courier.retention.*; 'off' keeps a table). Deduplication holds",
      "only inside the ledger horizon: an event redelivered or replayed after its ledger row is",
      "pruned is processed again."
    })
final class PruneCommand extends AdminCommand {
  @Option(names = "--dry-run", description = "Count what would be removed; change nothing.")
  boolean dryRun;

  @Option(names = "--ledger", paramLabel = "AGE", description = "Ledger horizon (courier.retention.ledger, default 30d; off keeps it).")
  String ledger;

  @Option(names = "--published", paramLabel = "AGE", description = "Published-row horizon (courier.retention.published, default 7d).")
  String published;

  @Option(names = "--archive", paramLabel = "AGE", description = "Archive horizon (courier.retention.archive, default 90d).")
  String archive;

  @Option(names = "--dead-letters", paramLabel = "AGE", description = "Horizon of replayed and discarded dead letters (courier.retention.dead-letters, default 30d).")
  String deadLetters;

  @Option(names = "--audit", paramLabel = "AGE", description = "Audit-trail horizon (courier.retention.audit, default off: kept).")
  String audit;

  @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
  String operator;

  @Override
  CourierConfig.Loader configure(CourierConfig.Loader loader) {
    return loader
        .option(Setting.RETENTION_LEDGER, "--ledger", ledger)
        .option(Setting.RETENTION_PUBLISHED, "--published", published)
        .option(Setting.RETENTION_ARCHIVE, "--archive", archive)
        .option(Setting.RETENTION_DEAD_LETTERS, "--dead-letters", deadLetters)
        .option(Setting.RETENTION_AUDIT, "--audit", audit);
  }

  @Override
  int run(Context ctx, PrintWriter out) {
    Retention.Result r =
        new Retention(ctx.dataSource(), ctx.tables(), ctx.clock())
            .prune(ctx.config().retention().policy(), dryRun, who(ctx, operator, null));
    if (json) {
      printJson(out, AdminJson.prune(r));
    } else {
      out.printf(
          "%s%d ledger row(s), %d published outbox row(s) (%d archived), %d archived event(s),"
              + " %d resolved dead letter(s), %d audit entr%s%n",
          dryRun ? "would prune " : "pruned ",
          r.ledgerRows(),
          r.outboxRows(),
          r.archivedRows(),
          r.archiveRows(),
          r.deadLetterRows(),
          r.auditRows(),
          r.auditRows() == 1 ? "y" : "ies");
    }
    return 0;
  }
}
