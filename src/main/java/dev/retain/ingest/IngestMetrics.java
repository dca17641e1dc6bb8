package dev.retain.ingest;

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
    String model = state.model();
    for (int c = 0; c < classes; c++) {
      int label = c;
      Gauge.builder(
              "retain.replay.class.size",
              state.replay(),
              r -> r.sizeByClass().getOrDefault(label, 0))
          .tags("model", model, "class", Integer.toString(c))
          .description("Replay reservoir slots held by one class")
          .register(registry);
    }
    state.holdout().domains().forEach(this::domainSeen);
    ingested =
        Counter.builder("retain.examples.ingested")
            .tag("model", model)
            .description("Examples accepted into the store")
            .register(registry);
    heldOut =
        Counter.builder("retain.examples.heldout")
            .tag("model", model)
            .description("Accepted examples held out for evaluation")
            .register(registry);
    skipped =
        Counter.builder("retain.examples.skipped")
            .tag("model", model)
            .description("Records keyed for another model, left alone")
            .register(registry);
    for (RejectReason reason : RejectReason.values()) {
      rejected.put(
          reason,
          Counter.builder("retain.examples.rejected")
              .tag("model", model)
              .tag("reason", reason.tag())
              .description("Records sent to the dead-letter topic")
              .register(registry));
    }
    commitDuration =
        Timer.builder("retain.ingest.commit.duration")
            .tag("model", model)
            .description("Time of one atomic store write, dead letters flushed first")
            .register(registry);
    Gauge.builder("retain.replay.size", state.replay(), r -> r.size())
        .tag("model", model)
        .description("Examples held in the replay reservoir")
        .register(registry);
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
