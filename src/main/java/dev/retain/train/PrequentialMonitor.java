package dev.retain.train;

import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.drift.Adwin;
import dev.retain.drift.DriftDetector;
import dev.retain.drift.PageHinkley;
import dev.retain.record.Example;
import java.util.List;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the learner's prequential errors (each new example predicted before the step learns from
 * it: 1 when wrong, 0 when right) to the configured drift detector, and reports its detections: a
 * log line and {@code retain_drift_detections_total{source=<detector>}}.
 */
final class PrequentialMonitor {
  private static final Logger LOG = LoggerFactory.getLogger(PrequentialMonitor.class);
  private final RetainConfig config;
  private DriftDetector detector; // null: none
  private final TrainMetrics metrics;
  private final int classes;
  private long examples;

  PrequentialMonitor(RetainConfig config, TrainMetrics metrics) {
    this.config = config;
    this.detector = detector(config);
    this.metrics = metrics;
    this.classes = config.getInt(RetainConfig.RECORD_CLASSES);
    if (detector != null) {
      metrics.driftStatistic(detector.name(), () -> detector.statistic());
    }
  }

  /** The detector's name ("none" without one). */
  String name() {
    return detector == null ? "none" : detector.name();
  }

  static DriftDetector detector(RetainConfig config) {
    return switch (config.choice(RetainConfig.DRIFT_DETECTOR, Choice.DriftDetector.class)) {
      case ADWIN -> new Adwin(config.getDouble(RetainConfig.DRIFT_ADWIN_DELTA), 32, true);
      case PAGE_HINKLEY ->
          new PageHinkley(
              config.getDouble(RetainConfig.DRIFT_PH_DELTA),
              config.getDouble(RetainConfig.DRIFT_PH_LAMBDA),
              30);
      case NONE -> null;
    };
  }

  /**
   * The step's new examples, right or wrong before it learned them (its logits come first); the
   * example at which the detector raised an alarm, or null. {@code listener}, when not null, hears
   * whether each was right.
   */
  Example observe(
      Learner.StepResult result, List<Example> fresh, BiConsumer<Example, Boolean> listener) {
    Example alarm = null;
    if (detector == null || result.logits().length < fresh.size() * classes) {
      return null;
    }
    for (int i = 0; i < fresh.size(); i++) {
      examples++;
      boolean wrong = argmax(result.logits(), i * classes) != fresh.get(i).label();
      if (listener != null) {
        listener.accept(fresh.get(i), !wrong);
      }
      if (detector.add(wrong ? 1 : 0)) {
        alarm = fresh.get(i);
        metrics.driftDetected(detector.name());
        detector = detector(config); // the new regime's errors only, from here on
        LOG.info(
            "{} detected a drift in the prequential error after {} examples, at {} (domain {})",
            detector.name(),
            examples,
            fresh.get(i).id(),
            fresh.get(i).domain());
      }
    }
    return alarm;
  }

  private int argmax(float[] logits, int from) {
    int best = 0;
    for (int c = 1; c < classes; c++) {
      best = logits[from + c] > logits[from + best] ? c : best;
    }
    return best;
  }
}
