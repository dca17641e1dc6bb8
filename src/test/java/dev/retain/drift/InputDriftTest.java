package dev.retain.drift;

import static org.assertj.core.api.Assertions.assertThat;

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
