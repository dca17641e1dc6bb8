package dev.retain.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AccuracyMatrixTest {
  private static Map<String, Double> row(double... acc) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < acc.length; i++) {
      out.put("d" + i, acc[i]);
    }
    return out;
  }

  @Test
  void shouldComputeForgettingAndBackwardTransferWhenDomainsAreLearnedInTurn() {
    AccuracyMatrix matrix = new AccuracyMatrix();
    matrix.record("d0", row(0.90));
    matrix.record("d1", row(0.80, 0.85));
    matrix.record("d2", row(0.70, 0.75, 0.95));
    assertThat(matrix.averageAccuracy()).isCloseTo(0.8, within(1e-9));
    assertThat(matrix.forgetting().get("d0")).isCloseTo(0.20, within(1e-9));
    assertThat(matrix.forgetting().get("d1")).isCloseTo(0.10, within(1e-9));
    assertThat(matrix.forgetting().get("d2")).isZero();
    // ((0.70 - 0.90) + (0.75 - 0.85)) / 2
    assertThat(matrix.backwardTransfer()).isCloseTo(-0.15, within(1e-9));
    assertThat(matrix.rows()).hasSize(3);
  }

  @Test
  void shouldReportNothingWhenEmpty() {
    AccuracyMatrix matrix = new AccuracyMatrix();
    assertThat(matrix.current()).isEmpty();
    assertThat(matrix.averageAccuracy()).isNaN();
    assertThat(matrix.backwardTransfer()).isZero();
  }

  @Test
  void
      shouldMeasureBackwardTransferFromTheRowAfterLearningEvenWhenLaterDomainsWereEvaluatedEarly() {
    AccuracyMatrix matrix = new AccuracyMatrix();
    // d0 trained the base (no row of its own); every domain is evaluated from the first row on
    matrix.record("d1", row(0.90, 0.80, 0.10));
    matrix.record("d2", row(0.85, 0.70, 0.90));
    assertThat(matrix.backwardTransfer()).isCloseTo(-0.10, within(1e-9));
  }

  @Test
  void shouldCountDomainsScoredBeforeTheyWereLearned() {
    AccuracyMatrix matrix = new AccuracyMatrix();
    matrix.record("d0", java.util.Map.of("d0", 0.9));
    matrix.record("d1", java.util.Map.of("d0", 0.8, "d1", 0.7));
    assertThat(matrix.scoredBeforeLearned()).isZero();
    matrix.record("d2", java.util.Map.of("d0", 0.8, "d1", 0.7, "d2", 0.6, "d3", 0.1));
    assertThat(matrix.scoredBeforeLearned()).as("d3 scored at d2's row").isEqualTo(1);
  }

  @Test
  void shouldCountDomainsThePretrainingCoveredAsLearned() {
    AccuracyMatrix matrix = new AccuracyMatrix();
    // the base's pretraining took all of d0 and the start of d1: the first row is d1's
    matrix.pretrainedOn(java.util.List.of("d0", "d1"));
    matrix.record("d1", java.util.Map.of("d0", 0.9, "d1", 0.5));
    matrix.record("d2", java.util.Map.of("d0", 0.8, "d1", 0.7, "d2", 0.6));
    assertThat(matrix.scoredBeforeLearned()).isZero();
  }
}
