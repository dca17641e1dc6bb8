package dev.retain.cli;

import dev.retain.config.ConfigLoader;
import dev.retain.config.RetainConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options shared by every command that reads Retain's configuration. */
final class ConfigOptions {
  @Option(
      names = {"-c", "--config"},
      description = "Properties file (lowest precedence).")
  Path file;

  @Option(
      names = {"-s", "--set"},
      paramLabel = "KEY=VALUE",
      description = "Override one key (highest precedence; above RETAIN_* environment variables).")
  List<String> overrides = new ArrayList<>();

  RetainConfig load(Map<String, String> extra) {
    List<String> all = new ArrayList<>();
    extra.forEach((k, v) -> all.add(k + "=" + v));
    all.addAll(overrides);
    return ConfigLoader.load(file, System.getenv(), all);
  }

  RetainConfig load() {
    return load(Map.of());
  }
}
