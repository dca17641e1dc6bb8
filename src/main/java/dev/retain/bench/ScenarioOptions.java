package dev.retain.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options {@code bench stream} and {@code bench continual} share: which scenario, how much of
 * it, how many seeds, settings for every policy, JSON output. Each bench gives its own defaults
 * (picocli takes a field's initial value as its default).
 */
final class ScenarioOptions {
  @Option(
      names = {"--scenario", "--shift"},
      description = "permuted, rotated or class-incremental (default: ${DEFAULT-VALUE}).")
  String scenario;

  @Option(
      names = "--domains",
      description = "Domains, domain 0 included (default: ${DEFAULT-VALUE}).")
  int domains = 5;

  @Option(names = "--per-domain", description = "Examples per domain (default: ${DEFAULT-VALUE}).")
  int perDomain;

  @Option(names = "--eval", description = "Test images per domain (default: ${DEFAULT-VALUE}).")
  int evalSize;

  @Option(names = "--seeds", description = "Runs per policy (default: ${DEFAULT-VALUE}).")
  int seeds;

  @Option(
      names = "--generated",
      description = "Use generated data even when Fashion-MNIST is installed.")
  boolean generated;

  @Option(
      names = {"-s", "--set"},
      description = "A configuration setting KEY=VALUE for every policy (repeatable).")
  Map<String, String> settings = new LinkedHashMap<>();

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  ScenarioOptions(String scenario, int perDomain, int evalSize, int seeds) {
    this.scenario = scenario;
    this.perDomain = perDomain;
    this.evalSize = evalSize;
    this.seeds = seeds;
  }

  /** The scenario's data, with {@link #domains} set to what it holds. */
  Scenario load() {
    Scenario data = Scenario.load(scenario, domains, perDomain, evalSize, generated);
    domains = data.train().size();
    return data;
  }
}
