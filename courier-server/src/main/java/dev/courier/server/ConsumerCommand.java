package dev.courier.server;

import dev.courier.inbox.ConsumerPauses;
import dev.courier.server.admin.AdminJson;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code courier consumer status|pause|resume}: which consumers are paused, and pausing them. */
@Command(
    name = "consumer",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Paused consumers: status, pause, resume. A paused consumer processes and acknowledges nothing;",
      "its deliveries wait at the broker. Consumers built with autoPause pause themselves when their",
      "dead letters pass the threshold."
    },
    subcommands = {
      ConsumerCommand.Status.class,
      ConsumerCommand.Pause.class,
      ConsumerCommand.Resume.class,
      CommandLine.HelpCommand.class
    })
final class ConsumerCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static ConsumerPauses pauses(AdminCommand.Context ctx) {
    return new ConsumerPauses(ctx.dataSource(), ctx.tables(), ctx.clock());
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = "List the paused consumers: since when, by whom, why. Exit 0 either way.")
  static final class Status extends AdminCommand {
    @Override
    int run(Context ctx, PrintWriter out) {
      List<ConsumerPauses.Pause> paused = pauses(ctx).list();
      if (json) {
        printJson(out, AdminJson.pauses(paused));
      } else if (paused.isEmpty()) {
        out.println("no consumer is paused");
      } else {
        TextTable t = new TextTable(80, "CONSUMER", "PAUSED AT", "BY", "AUTOMATIC", "REASON");
        for (ConsumerPauses.Pause p : paused) {
          t.row(p.consumer(), p.pausedAt(), p.pausedBy(), p.automatic() ? "yes" : "no", p.reason());
        }
        t.print(out);
      }
      return 0;
    }
  }

  /** What pause and resume share: the consumer, the reason and the operator, audited. */
  abstract static class Change extends AdminCommand {
    @Parameters(paramLabel = "CONSUMER", description = "The consumer's name.")
    String consumer;

    @Option(names = "--reason", paramLabel = "TEXT", required = true, description = "Why (required; audited).")
    String reason;

    @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
    String operator;

    /** Changes the pause; true if it changed anything. */
    abstract boolean change(ConsumerPauses pauses, dev.courier.admin.Attribution who);

    /** The JSON field and the words for a change that happened, and for one that did not. */
    abstract String[] words();

    @Override
    int run(Context ctx, PrintWriter out) {
      boolean done = change(pauses(ctx), who(ctx, operator, reason));
      String[] w = words();
      if (json) {
        printJson(out, AdminJson.MAPPER.createObjectNode().put("consumer", consumer).put(w[0], done));
      } else {
        out.println("consumer " + consumer + " " + (done ? w[1] : w[2]));
      }
      return okUnlessEmpty(done ? 1 : 0);
    }
  }

  @Command(
      name = "pause",
      mixinStandardHelpOptions = true,
      description = {
        "Pause a consumer: its processors stop taking deliveries within a second, and acknowledge",
        "nothing until it is resumed. Exit 1 when it was paused already."
      })
  static final class Pause extends Change {
    @Override
    boolean change(ConsumerPauses pauses, dev.courier.admin.Attribution who) {
      return pauses.pause(consumer, who, false);
    }

    @Override
    String[] words() {
      return new String[] {"paused", "paused", "was paused already"};
    }
  }

  @Command(
      name = "resume",
      mixinStandardHelpOptions = true,
      description = {
        "Resume a paused consumer: its processors take deliveries again within a second, the ones",
        "that waited first. Exit 1 when it was not paused."
      })
  static final class Resume extends Change {
    @Override
    boolean change(ConsumerPauses pauses, dev.courier.admin.Attribution who) {
      return pauses.resume(consumer, who);
    }

    @Override
    String[] words() {
      return new String[] {"resumed", "resumed", "was not paused"};
    }
  }
}
