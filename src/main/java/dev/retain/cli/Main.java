package dev.retain.cli;

import java.io.PrintWriter;
import org.apache.kafka.common.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

/** The {@code retain} command. */
@Command(
    name = "retain",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Keeps a deployed model current on drifting Kafka streams without forgetting.",
    subcommands = {
      RunCommand.class,
      ServeCommand.class,
      PretrainCommand.class,
      RollbackCommand.class,
      ExportCommand.class,
      ProduceCommand.class,
      dev.retain.soak.Soak.class,
      InspectCommand.class,
      ConfigCommand.class,
      DemoCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  @Option(
      names = "--verbose",
      scope = ScopeType.INHERIT,
      description = "On an error, print its stack trace too.")
  boolean verbose;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    CommandLine line =
        new CommandLine(new Main())
            .setCaseInsensitiveEnumValuesAllowed(true)
            .setExecutionExceptionHandler(Main::failed);
    helpEverywhere(line);
    return line;
  }

  /** Every subcommand, at every depth, takes --help (and --version). */
  private static void helpEverywhere(CommandLine line) {
    if (line.getCommandSpec().findOption("--help") == null) {
      line.getCommandSpec().mixinStandardHelpOptions(true);
    }
    line.getSubcommands().values().forEach(Main::helpEverywhere);
  }

  /**
   * A failure while a command runs: a configuration error is one line naming the key and the value
   * (exit 2), anything else one line with its message (exit 1); {@code --verbose} adds the stack.
   */
  private static boolean verbose(ParseResult parsed) {
    boolean verbose = false;
    for (ParseResult p = parsed; p != null; p = p.subcommand()) {
      verbose |= p.hasMatchedOption("--verbose");
    }
    return verbose;
  }

  private static int failed(Exception e, CommandLine line, ParseResult parsed) {
    ConfigException config = cause(e, ConfigException.class);
    PrintWriter err = line.getErr();
    err.println(
        config != null
            ? "configuration error: " + config.getMessage()
            : "retain " + line.getCommandName() + " failed: " + e);
    if (verbose(parsed)) {
      e.printStackTrace(err);
    } else {
      err.println("(--verbose prints the stack trace)");
    }
    err.flush();
    return config != null ? 2 : 1;
  }

  private static <T extends Throwable> T cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  /** Version from the jar manifest, "dev" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"retain " + (v == null ? "dev" : v)};
    }
  }
}
