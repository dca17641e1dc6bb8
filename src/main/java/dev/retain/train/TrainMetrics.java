package dev.retain.train;

import dev.retain.eval.RetentionReport;
import dev.retain.metrics.DriftMeters;
import dev.retain.metrics.ModelMeters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** Meters of the learner, tagged with the model id (and the domain where one applies). */
final class TrainMetrics {
  private static final String DOMAIN = "domain";
  private static final String ACCURACY = "retain.eval.accuracy";
  private static final String ACCURACY_HELP =
      "Retained accuracy: holdout accuracy of the domain after the latest consolidation";
  private static final String FORGETTING = "retain.eval.forgetting";
  private static final String FORGETTING_HELP =
      "Best earlier holdout accuracy of the domain minus its current accuracy";
  private static final String PENALTY_HELP = "EWC penalty at the latest consolidation or step";
  private static final String PREQUENTIAL_HELP =
      "Accuracy on new examples before training on them (moving average over ~1,000)";
  private static final String AVERAGE_HELP = "Mean holdout accuracy over every domain seen";
  private static final String BWT_HELP = "Backward transfer over earlier domains";
  private static final String REGIME_HELP =
      "The current regime of a stream without domains: 0 until a detector opens regime-1";
  private static final String STEP_HELP =
      "One training step: batch assembly, replay sample, forward, backward, Adam";

  static final String STEP_DURATION = "retain.train.step.duration";
  static final String EXAMPLES_NEW = "retain.train.examples.new";
  static final String EXAMPLES_REPLAYED = "retain.train.examples.replayed";

  private final MeterRegistry registry;
  private final String model;
  private final RetentionReport report;
  private final Counter steps;
  private final Counter fresh;
  private final Counter replayed;
  private volatile double lastDrift;
  private volatile int regime;
  private final Counter drifts;
  private final Timer stepDuration;
  private final Set<String> domains = new HashSet<>();
  private volatile double loss = Double.NaN;
  private volatile double penalty;
  private volatile double prequential = Double.NaN;

  TrainMetrics(MeterRegistry registry, String model, RetentionReport report) {
    this.registry = registry;
    this.model = model;
    this.report = report;
    ModelMeters meters = new ModelMeters(registry, model);
    steps = meters.counter("retain.train.steps", "Optimisation steps of the adapter");
    fresh = meters.counter(EXAMPLES_NEW, "New examples trained on");
    replayed = meters.counter(EXAMPLES_REPLAYED, "Replayed examples trained on");
    drifts = DriftMeters.detections(meters, "domain-label");
    stepDuration = meters.timer(STEP_DURATION, STEP_HELP);
    gauges(meters);
    meters.gauge("retain.drift.regime", REGIME_HELP, () -> regime);
    DriftMeters.lastDetection(meters, () -> lastDrift);
  }

  private void gauges(ModelMeters meters) {
    meters.gauge(
        "retain.train.loss", "Loss of the latest step (cross-entropy plus EWC)", () -> loss);
    meters.gauge("retain.train.ewc.penalty", PENALTY_HELP, () -> penalty);
    meters.gauge("retain.train.prequential.accuracy", PREQUENTIAL_HELP, () -> prequential);
    meters.gauge("retain.eval.average.accuracy", AVERAGE_HELP, report::averageAccuracy);
    meters.gauge("retain.eval.backward.transfer", BWT_HELP, report::backwardTransfer);
  }

  void step(long nanos, Learner.StepResult result, int newCount, int replayCount) {
    stepDuration.record(nanos, TimeUnit.NANOSECONDS);
    steps.increment();
    fresh.increment(newCount);
    replayed.increment(replayCount);
    loss = result.loss();
    if (newCount > 0) {
      double acc = result.freshCorrect() / (double) newCount;
      double weight = Math.min(1.0, newCount / 1000.0);
      prequential = Double.isNaN(prequential) ? acc : prequential + weight * (acc - prequential);
    }
  }

  void penalty(double value) {
    penalty = value;
  }

  /** Registers the per-domain gauges of {@code domain} the first time it is evaluated. */
  void evaluated(Iterable<String> evaluatedDomains) {
    ModelMeters meters = new ModelMeters(registry, model);
    for (String domain : evaluatedDomains) {
      if (domains.add(domain)) {
        meters.gauge(
            ACCURACY, ACCURACY_HELP, () -> accuracy(report.current(), domain), DOMAIN, domain);
        meters.gauge(
            FORGETTING,
            FORGETTING_HELP,
            () -> accuracy(report.forgetting(), domain),
            DOMAIN,
            domain);
      }
    }
  }

  private static double accuracy(Map<String, Double> byDomain, String domain) {
    return byDomain.getOrDefault(domain, Double.NaN);
  }

  /** A drift found by {@code source} (a detector's name). */
  void driftDetected(String source) {
    DriftMeters.detections(new ModelMeters(registry, model), source).increment();
    lastDrift = System.currentTimeMillis() / 1000.0;
  }

  /** The current regime's number, for a stream without domains. */
  void regime(int number) {
    regime = number;
  }

  /** Exposes a detector's test statistic. */
  void driftStatistic(String detector, java.util.function.DoubleSupplier statistic) {
    DriftMeters.statistic(new ModelMeters(registry, model), detector, statistic);
  }

  /** A new domain label appeared in the stream: a drift announced by the producers. */
  void driftDetected() {
    drifts.increment();
    lastDrift = System.currentTimeMillis() / 1000.0;
  }

  Counter consolidations(String trigger) {
    return Counter.builder("retain.train.consolidations")
        .tags("model", model, "trigger", trigger)
        .description("Consolidations (Fisher update, evaluation, candidate adapter) by trigger")
        .register(registry);
  }
}
