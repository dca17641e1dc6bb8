package dev.retain.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

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
      ProduceCommand.class,
      InspectCommand.class,
      ConfigCommand.class,
      DemoCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
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
