package dev.retain.drift;

/**
 * The Page-Hinkley test (Page, "Continuous inspection schemes", Biometrika 1954; as Gama et al. use
 * it for a learner's error, "A survey on concept drift adaptation", 2014) for an increase of the
 * mean: with x̄ the running mean, {@code m_T = Σ (x_t − x̄_t − δ)} and {@code M_T = min m_t}, a
 * change is detected when {@code m_T − M_T > λ}. After a detection the test starts again.
 */
public final class PageHinkley implements DriftDetector {
  private final double delta;
  private final double lambda;
  private final int minValues;
  private long n;
  private double mean;
  private double sum; // m_T
  private double min; // M_T

  /**
   * @param delta the magnitude of change tolerated, δ (in the values' unit)
   * @param lambda the threshold λ: larger, fewer false alarms and later detections
   * @param minValues values seen before any detection
   */
  public PageHinkley(double delta, double lambda, int minValues) {
    if (delta < 0 || lambda <= 0 || minValues < 1) {
      throw new IllegalArgumentException("need delta >= 0, lambda > 0, minValues >= 1");
    }
    this.delta = delta;
    this.lambda = lambda;
    this.minValues = minValues;
  }

  @Override
  public String name() {
    return "page-hinkley";
  }

  @Override
  public double statistic() {
    return sum - min;
  }

  @Override
  public boolean add(double value) {
    n++;
    mean += (value - mean) / n;
    sum += value - mean - delta;
    min = Math.min(min, sum);
    if (n >= minValues && sum - min > lambda) {
      n = 0;
      mean = 0;
      sum = 0;
      min = 0;
      return true;
    }
    return false;
  }
}
