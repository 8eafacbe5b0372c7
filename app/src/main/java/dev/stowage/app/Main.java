package dev.stowage.app;

import dev.stowage.workload.WorkloadException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code stowage} command line. */
@Command(
    name = "stowage",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Stowage: a batch-task scheduler for the JVM.")
public final class Main implements Runnable {
  /** The subcommands, in the order help lists them. */
  private static final java.util.List<Class<?>> SUBCOMMANDS =
      java.util.List.of(
          UpCommand.class,
          SubmitCommand.class,
          StatusCommand.class,
          TaskCommands.List.class,
          TaskCommands.Logs.class,
          TaskCommands.Cancel.class,
          TaskCommands.Retry.class,
          TaskCommands.Why.class,
          TokensCommand.class,
          DashboardCommand.class,
          QueuesCommand.class,
          PurgeCommand.class,
          StageCommand.class,
          PodStagingCommands.In.class,
          PodStagingCommands.Out.class,
          GenerateCommand.class,
          MatchCommand.class,
          BenchCommand.class,
          BenchCycleCommand.class,
          BenchFairShareCommand.class,
          BenchApiCommand.class,
          BenchDashboardCommand.class);

  /** Exit code for bad input: a file, a line, a value. */
  static final int BAD_INPUT = 1;

  /** Exit code for a command line that does not parse. */
  static final int USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    // Before the first logger: plain log lines for a person at a terminal, JSON lines otherwise.
    var console = System.console();
    if (System.getProperty("logback.configurationFile") == null
        && console != null
        && console.isTerminal()) {
      System.setProperty("logback.configurationFile", "logback-text.xml");
    }
    // java.util.logging (the OpenTelemetry SDK logs through it) into the same stream, so that
    // every record is one JSON line like the rest, not JUL's two-line text.
    org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
    org.slf4j.bridge.SLF4JBridgeHandler.install();
    System.exit(run(args, System.out, System.err));
  }

  /** Runs one command; never throws, returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    var cli = new CommandLine(new Main());
    // picocli builds the model of every subcommand it is given, by reflection, at each start:
    // for the command named first, only that one (50 ms less on every start); for anything else
    // (help, a typo), all of them, so that help and suggestions list them all.
    String first = args.length > 0 ? args[0] : "";
    boolean named = SUBCOMMANDS.stream().anyMatch(c -> nameOf(c).equals(first));
    for (Class<?> subcommand : SUBCOMMANDS) {
      if (!named || nameOf(subcommand).equals(first)) {
        cli.addSubcommand(subcommand);
      }
    }
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          commandLine.getErr().println("stowage: " + describe(e));
          return BAD_INPUT;
        });
    cli.setParameterExceptionHandler(
        (e, args2) -> {
          var c = e.getCommandLine();
          c.getErr().println("stowage: " + e.getMessage());
          c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help'.");
          return USAGE;
        });
    return cli.execute(args);
  }

  private static String nameOf(Class<?> subcommand) {
    return subcommand.getAnnotation(Command.class).name();
  }

  /** One line for the person at the terminal: bad input names its file and line, not a trace. */
  static String describe(Exception e) {
    return switch (e) {
      case WorkloadException w -> w.getMessage();
      case IllegalArgumentException i -> i.getMessage();
      case UncheckedIOException u -> u.getCause().getMessage();
      case IOException io -> io.getClass().getSimpleName() + ": " + io.getMessage();
      default -> e.getClass().getSimpleName() + ": " + e.getMessage();
    };
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"stowage " + (v == null ? "dev" : v)};
    }
  }
}
