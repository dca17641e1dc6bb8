package dev.retain.ingest;

import dev.retain.metrics.ModelMeters;
import dev.retain.record.RejectReason;
import dev.retain.store.ModelState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;

/** Meters of the ingest stage, tagged with the model id. */
final class IngestMetrics {
  private final Counter ingested;
  private final Counter heldOut;
  private final Counter skipped;
  private final Map<RejectReason, Counter> rejected = new EnumMap<>(RejectReason.class);
  final Timer commitDuration;

  private final MeterRegistry registry;
  private final ModelState state;
  private final java.util.Set<String> domains = new java.util.HashSet<>();

  IngestMetrics(MeterRegistry registry, ModelState state, int classes) {
    this.registry = registry;
    this.state = state;
    ModelMeters meters = new ModelMeters(registry, state.model());
    for (int c = 0; c < classes; c++) {
      int label = c;
      meters.gauge(
          "retain.replay.class.size",
          "Replay reservoir slots held by one class",
          state.replay(),
          r -> r.sizeByClass().getOrDefault(label, 0),
          "class",
          Integer.toString(c));
    }
    state.holdout().domains().forEach(this::domainSeen);
    ingested = meters.counter("retain.examples.ingested", "Examples accepted into the store");
    heldOut =
        meters.counter("retain.examples.heldout", "Accepted examples held out for evaluation");
    skipped =
        meters.counter("retain.examples.skipped", "Records keyed for another model, left alone");
    for (RejectReason reason : RejectReason.values()) {
      String about = "Records sent to the dead-letter topic";
      rejected.put(
          reason, meters.counter("retain.examples.rejected", about, "reason", reason.tag()));
    }
    commitDuration =
        meters.timer(
            "retain.ingest.commit.duration",
            "Time of one atomic store write, dead letters flushed first");
    meters.gauge(
        "retain.replay.size",
        "Examples held in the replay reservoir",
        state.replay(),
        r -> r.size());
  }

  void ingested(int n, int heldOutCount) {
    ingested.increment(n);
    heldOut.increment(heldOutCount);
    if (heldOutCount > 0 && domains.size() < state.holdout().domains().size()) {
      state.holdout().domains().forEach(this::domainSeen);
    }
  }

  /** Registers the holdout-size gauge of a domain the first time it is seen. */
  private void domainSeen(String domain) {
    if (domains.add(domain)) {
      Gauge.builder(
              "retain.holdout.size", state.holdout(), h -> h.sizeByDomain().getOrDefault(domain, 0))
          .tags("model", state.model(), "domain", domain)
          .description("Held-out evaluation examples of one domain")
          .register(registry);
    }
  }

  void rejected(RejectReason reason) {
    rejected.get(reason).increment();
  }

  void skipped() {
    skipped.increment();
  }
}
