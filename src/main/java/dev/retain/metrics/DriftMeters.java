package dev.retain.metrics;

import io.micrometer.core.instrument.Counter;
import java.util.function.DoubleSupplier;

/**
 * The drift meters the learner and serving both expose: the same names and descriptions in both
 * processes, so that dashboards and alerts read them across the two.
 */
public final class DriftMeters {
  private static final String DETECTIONS = "retain.drift.detections";
  private static final String STATISTIC = "retain.drift.statistic";
  private static final String LAST = "retain.drift.last.detection.timestamp";

  private DriftMeters() {}

  /** Drifts found by {@code source}: a new domain label, or a detector's alarm. */
  public static Counter detections(ModelMeters meters, String source) {
    return meters.counter(
        DETECTIONS,
        "Drifts detected: a change of the records' domain label, or a detector's alarm",
        "source",
        source);
  }

  /** A detector's test statistic. */
  public static void statistic(ModelMeters meters, String detector, DoubleSupplier value) {
    meters.gauge(
        STATISTIC,
        "The drift detector's test statistic (ADWIN: the largest mean difference over its bound;"
            + " Page-Hinkley: the cumulative deviation; input-ks: the KS distance)",
        value,
        "detector",
        detector);
  }

  /** When the process last found a drift, Unix seconds (0: never). */
  public static void lastDetection(ModelMeters meters, DoubleSupplier value) {
    meters.secondsGauge(LAST, "When a drift was last detected (Unix time; 0: never)", value);
  }
}
