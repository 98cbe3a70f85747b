package dev.courier.server;

import dev.courier.admin.Page;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.deadletter.DeadLetterDetail;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.DeadLetterSummary;
import dev.courier.deadletter.FingerprintGroup;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.deadletter.ReplayResult;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.admin.TimeArgument;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code courier dlq list|show|replay|discard|groups}: the consumers' dead letters. */
@Command(
    name = "dlq",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = "Consumers' dead letters: list, show, replay, discard, groups (failure fingerprints).",
    subcommands = {
      DlqCommand.ListCommand.class,
      DlqCommand.Show.class,
      DlqCommand.Replay.class,
      DlqCommand.Discard.class,
      DlqCommand.Groups.class,
      CommandLine.HelpCommand.class
    })
final class DlqCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static DeadLetterAdmin admin(AdminCommand.Context ctx) {
    return DeadLetterAdmin.builder(ctx.dataSource()).tables(ctx.tables()).clock(ctx.clock()).build();
  }

  /** The filter options of list, replay and discard. */
  static final class FilterOptions {
    @Option(names = "--consumer", paramLabel = "NAME", description = "Only this consumer's.")
    String consumer;

    @Option(names = "--type", paramLabel = "TYPE", description = "Only events of this type.")
    String type;

    @Option(names = "--key", paramLabel = "KEY", description = "Only events with this key.")
    String key;

    @Option(names = "--fingerprint", paramLabel = "ID", description = "Only this failure fingerprint (see 'dlq groups').")
    String fingerprint;

    @Option(
        names = "--from",
        paramLabel = "TIME",
        description = "Dead-lettered at or after TIME: an ISO instant, a date, or an age (2h, 3d).")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "Dead-lettered before TIME (same forms as --from).")
    String to;

    DeadLetterFilter.Builder builder(AdminCommand.Context ctx, List<Long> ids) {
      return DeadLetterFilter.builder()
          .ids(ids)
          .consumer(consumer)
          .type(type)
          .key(key)
          .fingerprint(fingerprint)
          .from(TimeArgument.parse("--from", from, ctx.clock()))
          .to(TimeArgument.parse("--to", to, ctx.clock()));
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List dead letters, newest first. Exit 1 when none matches.")
  static final class ListCommand extends AdminCommand {
    @Mixin FilterOptions filter;

    @Option(
        names = "--status",
        paramLabel = "STATUS",
        defaultValue = "DEAD",
        description = "DEAD (default), PARKED, REPLAYED, DISCARDED or ALL.")
    String status;

    @Option(names = "--page", paramLabel = "N", defaultValue = "1", description = "Page number, from 1.")
    int page;

    @Option(names = "--size", paramLabel = "N", defaultValue = "50", description = "Rows per page, 1 to 500 (default ${DEFAULT-VALUE}).")
    int size;

    @Override
    int run(Context ctx, PrintWriter out) {
      DeadLetterFilter.Builder b = filter.builder(ctx, List.of());
      if (!status.equalsIgnoreCase("ALL")) {
        try {
          b.status(DeadLetterStatus.valueOf(status.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new dev.courier.admin.InvalidRequestException("--status", "must be DEAD, PARKED, REPLAYED, DISCARDED or ALL");
        }
      }
      Page<DeadLetterSummary> p = admin(ctx).list(b.build(), page, size);
      if (json) {
        printJson(out, AdminJson.deadLetterPage(p, 1));
      } else if (p.items().isEmpty()) {
        out.println("no dead letters match" + (p.total() > 0 ? " on page " + page + " (" + p.total() + " in all)" : ""));
      } else {
        TextTable t = new TextTable(48, "ID", "STATUS", "CONSUMER", "TYPE", "KEY", "REASON", "ATTEMPTS", "DEAD AT", "FINGERPRINT", "ERROR");
        for (DeadLetterSummary s : p.items()) {
          t.row(s.id(), s.status(), s.consumer(), s.type(), s.key(), s.reason(), s.attempts(), s.deadAt(), s.fingerprint(), s.errorMessage());
        }
        t.print(out);
        long pages = (p.total() + size - 1) / size;
        out.printf("page %d of %d, %d dead letter%s%n", page, pages, p.total(), p.total() == 1 ? "" : "s");
      }
      return okUnlessEmpty(p.items().size());
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Show one dead letter: payload, headers, error, stack trace, attempts. Exit 1 if unknown.")
  static final class Show extends AdminCommand {
    @Parameters(paramLabel = "ID", description = "The dead letter's id.")
    long id;

    @Override
    int run(Context ctx, PrintWriter out) {
      DeadLetterDetail d = admin(ctx).show(id);
      if (json) {
        printJson(out, AdminJson.detail(d));
        return 0;
      }
      var n = AdminJson.detail(d);
      for (String f : List.of("id", "status", "eventId", "consumer", "type", "key", "destination", "reason",
          "attempts", "firstFailedAt", "deadAt", "fingerprint", "errorClass", "errorMessage", "source",
          "correlationId", "causationId", "eventCreatedAt", "replayId", "resolvedAt", "resolvedBy", "resolution")) {
        if (n.hasNonNull(f)) {
          out.printf("%-15s %s%n", f, n.get(f).asText());
        }
      }
      out.println("headers");
      d.headers().forEach((k, v) -> out.printf("  %s: %s%n", k, v));
      out.println(
          "payload ("
              + n.get("payloadEncoding").asText()
              + (d.payloadTruncated()
                  ? "; only its first " + d.payload().length + " of " + d.payloadSize()
                      + " bytes were kept, it was over the consumer's size limit"
                  : "")
              + (d.payloadSha256() != null ? "; sha256 " + d.payloadSha256() : "")
              + ")");
      out.println(n.hasNonNull("payload") ? n.get("payload").asText() : "-");
      if (d.stackTrace() != null) {
        out.println("stack trace");
        out.println(d.stackTrace().stripTrailing());
      }
      return 0;
    }
  }

  @Command(
      name = "replay",
      mixinStandardHelpOptions = true,
      description = {
        "Replay parked dead letters: each goes back to the outbox with its own event id, for its",
        "consumer to process again (consumers that processed it already skip it). Give ids, filters,",
        "or --all. The same --replay-id submitted twice replays once. Exit 1 when nothing was replayed."
      })
  static final class Replay extends AdminCommand {
    @Parameters(paramLabel = "ID", arity = "0..*", description = "Dead-letter ids.")
    List<Long> ids = new ArrayList<>();

    @Mixin FilterOptions filter;

    @Option(names = "--all", description = "Every parked dead letter (when no id or filter is given).")
    boolean all;

    @Option(names = "--dry-run", description = "List what would be replayed; change nothing.")
    boolean dryRun;

    @Option(
        names = "--rate",
        paramLabel = "N",
        defaultValue = "0",
        description = "At most N replayed events per second become publishable: 0 (no limit) or at least 1.")
    double rate;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "10000", description = "At most N dead letters (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--replay-id", paramLabel = "ID", description = "The replay's id (default: a new one); resubmitting it is harmless.")
    String replayId;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit trail.")
    String reason;

    @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
    String operator;

    @Override
    int run(Context ctx, PrintWriter out) {
      DeadLetterFilter.Builder b = filter.builder(ctx, ids);
      if (all) {
        b.all();
      }
      ReplayResult r =
          admin(ctx).replay(new ReplayRequest(b.build(), replayId, dryRun, rate, limit, who(ctx, operator, reason)));
      if (json) {
        printJson(out, AdminJson.replay(r));
      } else if (r.dryRun()) {
        out.println("dry run: would replay " + r.items().size() + " dead letter(s): " + r.items());
        if (!r.alreadyProcessed().isEmpty()) {
          out.println("already processed by their consumer (would be marked replayed only): " + r.alreadyProcessed());
        }
      } else if (r.alreadySubmitted()) {
        out.println("replay " + r.replayId() + " was submitted before (" + r.replayed() + " replayed then); nothing more enqueued");
      } else {
        out.println("replay " + r.replayId() + ": replayed " + r.replayed() + " dead letter(s): " + r.items());
        if (!r.alreadyProcessed().isEmpty()) {
          out.println("already processed by their consumer, marked replayed: " + r.alreadyProcessed());
        }
      }
      for (ReplayResult.Skipped s : r.skipped()) {
        out.println("skipped " + s.id() + ": " + s.why());
      }
      return r.alreadySubmitted() ? 0 : okUnlessEmpty(r.items().size() + r.alreadyProcessed().size());
    }
  }

  @Command(
      name = "discard",
      mixinStandardHelpOptions = true,
      description = {
        "Discard parked dead letters, with a reason: they stay in the table, marked DISCARDED.",
        "Give ids, filters, or --all. Exit 1 when nothing was discarded."
      })
  static final class Discard extends AdminCommand {
    @Parameters(paramLabel = "ID", arity = "0..*", description = "Dead-letter ids.")
    List<Long> ids = new ArrayList<>();

    @Mixin FilterOptions filter;

    @Option(names = "--all", description = "Every parked dead letter (when no id or filter is given).")
    boolean all;

    @Option(names = "--reason", paramLabel = "TEXT", required = true, description = "Why (required; audited).")
    String reason;

    @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
    String operator;

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "10000",
        description = "At most N dead letters, lowest ids first, 1 to 10000 (default ${DEFAULT-VALUE}); run again for more.")
    int limit;

    @Override
    int run(Context ctx, PrintWriter out) {
      DeadLetterFilter.Builder b = filter.builder(ctx, ids);
      if (all) {
        b.all();
      }
      if (reason == null || reason.isBlank()) {
        throw new dev.courier.admin.InvalidRequestException("--reason", "a reason is required to discard dead letters");
      }
      List<Long> done = admin(ctx).discard(b.build(), who(ctx, operator, reason), limit);
      if (json) {
        printJson(out, AdminJson.discarded(done, limit));
      } else {
        out.println("discarded " + done.size() + " dead letter(s): " + done);
        if (done.size() == limit) {
          out.println("the limit of " + limit + " was reached: more may match; run the command again");
        }
      }
      return okUnlessEmpty(done.size());
    }
  }

  @Command(
      name = "groups",
      mixinStandardHelpOptions = true,
      description = {
        "Parked dead letters grouped by failure fingerprint (exception type, top frame, message",
        "shape). Replay or discard a group with --fingerprint."
      })
  static final class Groups extends AdminCommand {
    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "The N largest groups, 1 to 1000 (default ${DEFAULT-VALUE}).")
    int limit;

    @Override
    int run(Context ctx, PrintWriter out) {
      List<FingerprintGroup> groups = admin(ctx).groups(limit);
      if (json) {
        printJson(out, AdminJson.groups(groups));
      } else if (groups.isEmpty()) {
        out.println("no parked dead letters");
      } else {
        TextTable t = new TextTable(60, "FINGERPRINT", "COUNT", "EXCEPTION", "TOP FRAME", "MESSAGE SHAPE", "CONSUMERS", "LAST SEEN");
        for (FingerprintGroup g : groups) {
          t.row(g.fingerprint(), g.count(), g.exceptionType(), g.topFrame(), g.messageShape(), String.join(",", g.consumers()), g.lastSeen());
        }
        t.print(out);
      }
      return 0;
    }
  }
}
