package dev.retain.cli;

import dev.retain.adapter.AdapterExport;
import dev.retain.config.RetainConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Writes an adapter version and its base as a directory PEFT loads. */
@Command(
    name = "export",
    description = "Write an adapter version (and its base) as a directory PEFT loads.")
final class ExportCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  // its own help option: the standard one would also claim --version for the program's version
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Option(names = "--version", description = "The version id (default: the newest, the champion).")
  String version;

  @Option(names = "--out", required = true, description = "The directory to write.")
  Path out;

  @Override
  public Integer call() throws Exception {
    RetainConfig config = options.load();
    try {
      AdapterExport.Exported done = AdapterExport.export(config, version, out);
      System.out.printf(
          "exported %s (base %s) to %s%n",
          done.version(),
          done.baseHash().substring(0, Math.min(12, done.baseHash().length())),
          out);
      return 0;
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      return 1;
    }
  }
}
