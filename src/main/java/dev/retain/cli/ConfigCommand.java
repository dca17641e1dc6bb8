package dev.retain.cli;

import dev.retain.config.RetainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Prints the configuration table, or validates a configuration. */
@Command(name = "config", description = "Print every configuration key, or check a configuration.")
final class ConfigCommand implements Runnable {
  @Mixin ConfigOptions options;

  @picocli.CommandLine.Option(names = "--check", description = "Load and validate, then exit.")
  boolean check;

  @Override
  public void run() {
    if (check) {
      RetainConfig config = options.load();
      System.out.println(
          "configuration valid; store "
              + config.getString(RetainConfig.STORE_DIR)
              + ", brokers "
              + config.getString(RetainConfig.BOOTSTRAP_SERVERS));
    } else {
      System.out.print(RetainConfig.markdownTable());
    }
  }
}
