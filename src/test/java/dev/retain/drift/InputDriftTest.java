package dev.retain.drift;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.data.DriftStream;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The input-drift detector on prediction confidences: a model that grows unsure when its inputs
 * change (confidence around 0.9 before, around 0.6 after), and long stationary streams.
 */
class InputDriftTest {
  /** A confidence near {@code centre}: the mean of three uniforms around it, within (0, 1]. */
  private static double confidence(SplittableRandom random, double centre) {
    double noise = (random.nextDouble() + random.nextDouble() + random.nextDouble()) / 3 - 0.5;
    return Math.min(1, Math.max(1e-3, centre + 0.3 * noise));
  }

  @Test
  void shouldDetectAnAbruptChangeOfConfidenceWithinFiveHundredInputs() {
    for (long seed = 1; seed <= 5; seed++) {
      InputDrift drift = new InputDrift(1000, 500, 1e-4);
      SplittableRandom random = new SplittableRandom(seed);
      for (int i = 0; i < 3000; i++) {
        assertThat(drift.add(confidence(random, 0.9)))
            .as("before the change, seed %d", seed)
            .isFalse();
      }
      int delay = -1;
      for (int i = 0; i < 2000 && delay < 0; i++) {
        delay = drift.add(confidence(random, 0.6)) ? i + 1 : -1;
      }
      assertThat(delay).as("inputs from the change to the alarm, seed %d", seed).isBetween(1, 500);
      assertThat(drift.pValue()).isLessThan(1e-4);
    }
  }

  @Test
  void shouldRaiseNoAlarmOnAHundredThousandStationaryInputs() {
    for (double centre : new double[] {0.5, 0.75, 0.95}) {
      InputDrift drift = new InputDrift(1000, 500, 1e-4);
      SplittableRandom random = new SplittableRandom(11);
      int alarms = 0;
      for (int i = 0; i < 100_000; i++) {
        alarms += drift.add(confidence(random, centre)) ? 1 : 0;
      }
      assertThat(alarms).as("confidence around %.2f", centre).isZero();
    }
  }

  /**
   * The inputs themselves, through four random projections: a permutation of the features (another
   * regime of a permuted stream) is caught within 500 inputs although no confidence is watched, and
   * 100,000 inputs of one regime raise no alarm.
   */
  @Test
  void shouldDetectAPermutationOfTheInputsThroughTheirProjections() {
    DriftStream stream = new DriftStream(64, 5, 1.0f, 3);
    InputSummary summary = new InputSummary(64, 4, InputSummary.SEED);
    for (int to = 1; to <= 3; to++) {
      InputDrift drift = new InputDrift(4, 1000, 500, 1e-4);
      for (int i = 0; i < 2000; i++) {
        assertThat(drift.add(summary.of(stream.example(0, i).features()))).isFalse();
      }
      int delay = -1;
      for (int i = 0; i < 2000 && delay < 0; i++) {
        delay = drift.add(summary.of(stream.example(to, i).features())) ? i + 1 : -1;
      }
      assertThat(delay).as("inputs from regime 0 to %d until the alarm", to).isBetween(1, 500);
    }
    InputDrift drift = new InputDrift(4, 1000, 500, 1e-4);
    int alarms = 0;
    for (int i = 0; i < 100_000; i++) {
      alarms += drift.add(summary.of(stream.example(0, i).features())) ? 1 : 0;
    }
    assertThat(alarms).isZero();
  }

  /** Two samples of one regime's summaries match; samples of two regimes do not. */
  @Test
  void shouldTellWhetherTwoSamplesOfSummariesComeFromOneRegime() {
    DriftStream stream = new DriftStream(64, 5, 1.0f, 3);
    InputSummary summary = new InputSummary(64, 4, InputSummary.SEED);
    double[][] a = new double[300][];
    double[][] aAgain = new double[1000][];
    double[][] b = new double[1000][];
    for (int i = 0; i < 1000; i++) {
      if (i < 300) {
        a[i] = summary.of(stream.example(0, i).features());
      }
      aAgain[i] = summary.of(stream.example(0, 5000 + i).features());
      b[i] = summary.of(stream.example(1, i).features());
    }
    assertThat(InputDrift.sameDistribution(a, aAgain)).isGreaterThan(0.01);
    assertThat(InputDrift.sameDistribution(a, b)).isLessThan(1e-6);
  }

  @Test
  void shouldTakeTheInputsAfterADetectionAsTheNewReference() {
    InputDrift drift = new InputDrift(100, 50, 1e-4);
    SplittableRandom random = new SplittableRandom(2);
    for (int i = 0; i < 500; i++) {
      drift.add(confidence(random, 0.9));
    }
    int alarms = 0;
    for (int i = 0; i < 5000; i++) {
      alarms += drift.add(confidence(random, 0.5)) ? 1 : 0;
    }
    assertThat(alarms).as("one change, one alarm").isEqualTo(1);
  }
}
