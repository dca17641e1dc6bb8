package dev.retain.eval;

import java.util.Map;

/** What metrics and publishing read of the learner's evaluation. */
public interface RetentionReport {
  /** Accuracy per domain after the latest evaluation. */
  Map<String, Double> current();

  /** Mean of {@link #current()}. */
  double averageAccuracy();

  /** Per domain: best earlier accuracy minus current accuracy (0 when never better). */
  Map<String, Double> forgetting();

  /** Backward transfer over the domains learned before the latest one. */
  double backwardTransfer();
}
