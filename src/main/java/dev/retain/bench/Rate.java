package dev.retain.bench;

import java.util.List;

/**
 * Records per second, the CPU the whole process used meanwhile (200% = both cores), and the
 * consumer's average fetch latency (its {@code fetch-latency-avg}: from sending a fetch to having
 * read its whole response), which tells waiting for data from working on it.
 */
record Rate(
    double perSecond,
    double cpuPercent,
    double fetchMs,
    double jitPercent,
    double machinePercent,
    double pollPercent,
    double absorbPercent,
    double writerPercent,
    double gcPercent,
    double stolenPercent) {
  static Rate median(List<Rate> rates) {
    return new Rate(
        IngestBench.median(rates.stream().mapToDouble(Rate::perSecond).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::cpuPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::fetchMs).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::jitPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::machinePercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::pollPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::absorbPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::writerPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::gcPercent).toArray()),
        IngestBench.median(rates.stream().mapToDouble(Rate::stolenPercent).toArray()));
  }
}
