package dev.retain.cli;

import dev.retain.bench.ContinualBench;
import dev.retain.bench.DriftBench;
import dev.retain.bench.FleetBench;
import dev.retain.bench.IngestBench;
import dev.retain.bench.ServeBench;
import dev.retain.bench.StreamBench;
import picocli.CommandLine.Command;

/** Benchmarks: each prints a table and, with --json, one JSON object as its last line. */
@Command(
    name = "bench",
    description = "Benchmarks that print a table (and one JSON object with --json).",
    subcommands = {
      IngestBench.class,
      ServeBench.class,
      ContinualBench.class,
      StreamBench.class,
      DriftBench.class,
      FleetBench.class
    })
final class BenchCommand {}
