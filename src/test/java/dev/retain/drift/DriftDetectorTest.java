package dev.retain.drift;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The detectors on the streams their papers study: Bernoulli errors whose rate jumps (an abrupt
 * concept drift seen through a classifier's mistakes), and long stationary streams.
 */
class DriftDetectorTest {
  private static Supplier<DriftDetector> detector(String name) {
    return switch (name) {
      case "adwin" -> () -> new Adwin(0.002, 32, true);
      case "page-hinkley" -> () -> new PageHinkley(0.05, 50, 30);
      default -> throw new IllegalArgumentException(name);
    };
  }

  /**
   * Errors at rate {@code before} for {@code at} values, then at {@code after}: the first alarm.
   */
  private static long firstAlarmAfter(
      DriftDetector d, double before, double after, int at, int n, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      double rate = i < at ? before : after;
      if (d.add(random.nextDouble() < rate ? 1 : 0) && i >= at) {
        return i - at;
      }
    }
    return -1;
  }

  @ParameterizedTest
  @ValueSource(strings = {"adwin", "page-hinkley"})
  void shouldNotAlarmWhenTheErrorRateFallsAsTheLearnerAdapts(String name) {
    long delay = firstAlarmAfter(detector(name).get(), 0.8, 0.2, 2_000, 6_000, 1);
    assertThat(delay).as("%s watches for a rise only", name).isEqualTo(-1);
  }

  @org.junit.jupiter.api.Test
  void shouldReportAFallTooWhenWatchingBothWays() {
    assertThat(firstAlarmAfter(new Adwin(0.002, 32), 0.8, 0.2, 2_000, 4_000, 1))
        .isBetween(0L, 300L);
  }

  @ParameterizedTest
  @ValueSource(strings = {"adwin", "page-hinkley"})
  void shouldDetectAnAbruptRiseOfTheErrorRateWithinAFewHundredValues(String name) {
    for (long seed = 1; seed <= 5; seed++) {
      long delay = firstAlarmAfter(detector(name).get(), 0.2, 0.8, 2_000, 4_000, seed);
      assertThat(delay)
          .as("%s, seed %d: values from the change to the alarm", name, seed)
          .isBetween(0L, 300L);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"adwin", "page-hinkley"})
  void shouldRaiseNoAlarmOnAHundredThousandStationaryValues(String name) {
    for (double rate : new double[] {0.05, 0.2, 0.5}) {
      DriftDetector d = detector(name).get();
      SplittableRandom random = new SplittableRandom(7);
      int alarms = 0;
      for (int i = 0; i < 100_000; i++) {
        alarms += d.add(random.nextDouble() < rate ? 1 : 0) ? 1 : 0;
      }
      assertThat(alarms).as("%s at error rate %.2f", name, rate).isZero();
    }
  }

  @org.junit.jupiter.api.Test
  void shouldKeepOnlyTheValuesAfterTheChangeInTheWindow() {
    Adwin adwin = new Adwin(0.002, 32, true);
    SplittableRandom random = new SplittableRandom(3);
    for (int i = 0; i < 5_000; i++) {
      adwin.add(random.nextDouble() < (i < 3_000 ? 0.1 : 0.6) ? 1 : 0);
    }
    assertThat(adwin.width()).as("the window after the change").isLessThan(2_300);
    assertThat(adwin.mean()).isCloseTo(0.6, org.assertj.core.data.Offset.offset(0.05));
  }
}
