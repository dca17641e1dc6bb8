package dev.retain.drift;

import dev.retain.config.RetainConfig;
import java.util.SplittableRandom;

/**
 * A compact summary of an input for the drift tests: its projections on {@code dims} fixed random
 * Gaussian directions (seeded, so every process and restart projects alike). A shift of the input
 * distribution (other pixels lit, another mix of classes, a rotation) moves these projections'
 * distribution, while the summary costs {@code dims} dot products per input and needs no model.
 */
public final class InputSummary {
  /** The seed of the directions every part of Retain uses. */
  public static final long SEED = 0x5EED_D21F7L;

  private final float[][] directions;

  public InputSummary(int features, int dims, long seed) {
    if (features < 1 || dims < 1) {
      throw new IllegalArgumentException("need features >= 1 and dims >= 1");
    }
    SplittableRandom random = new SplittableRandom(seed);
    double scale = 1 / Math.sqrt(features);
    directions = new float[dims][features];
    for (float[] direction : directions) {
      for (int j = 0; j < features; j++) {
        direction[j] = (float) (gaussian(random) * scale);
      }
    }
  }

  private static double gaussian(SplittableRandom random) {
    double u = 1 - random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
  }

  /**
   * The summary every part of Retain uses: {@code retain.drift.input.projections} directions (at
   * least one) over {@code retain.record.features} inputs.
   */
  public static InputSummary of(RetainConfig config) {
    return new InputSummary(
        config.getInt(RetainConfig.RECORD_FEATURES),
        Math.max(1, config.getInt(RetainConfig.DRIFT_INPUT_PROJECTIONS)),
        SEED);
  }

  public int dims() {
    return directions.length;
  }

  /** Writes the summary of {@code input} to {@code out} from index {@code at}. */
  public void summarise(float[] input, double[] out, int at) {
    for (int d = 0; d < directions.length; d++) {
      float[] direction = directions[d];
      double sum = 0;
      for (int j = 0; j < direction.length; j++) {
        sum += direction[j] * input[j];
      }
      out[at + d] = sum;
    }
  }

  /** The summary of {@code input}. */
  public double[] of(float[] input) {
    double[] out = new double[directions.length];
    summarise(input, out, 0);
    return out;
  }
}
