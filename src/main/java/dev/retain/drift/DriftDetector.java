package dev.retain.drift;

/**
 * A detector of a change in the mean of a stream of numbers, fed one value at a time (for the
 * learner, 1 for a wrong prediction and 0 for a right one, made before it learned the example).
 */
public interface DriftDetector {
  /** Adds one value; true when it completes the detection of a change. */
  boolean add(double value);

  /**
   * The detector's current test statistic (what the {@code retain_drift_statistic} gauge shows).
   */
  double statistic();

  /** The detector's name, the {@code source} of its detections. */
  String name();
}
