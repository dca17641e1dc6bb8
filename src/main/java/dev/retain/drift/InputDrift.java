package dev.retain.drift;

import java.util.Arrays;
import org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest;

/**
 * Drift in unlabeled inputs, seen through a one-number summary of each (serving uses the
 * prediction's confidence): a two-sample Kolmogorov-Smirnov test between a reference window (the
 * first {@code reference} values of a regime) and a sliding window of the {@code recent} latest,
 * every {@code recent / 10} values, at significance {@code alpha}. A detection starts a new regime:
 * the next {@code reference} values become its reference.
 */
public final class InputDrift implements DriftDetector {
  private final int referenceSize;
  private final double[] recent;
  private final int checkEvery;
  private final double alpha;
  private final KolmogorovSmirnovTest test = new KolmogorovSmirnovTest();
  private double[] reference;
  private int referenceCount;
  private int recentCount; // values in the ring so far, up to its length
  private int next; // the ring's next slot
  private long sinceCheck;
  private double statistic;
  private double pValue = 1;

  public InputDrift(int reference, int recent, double alpha) {
    if (reference < 10 || recent < 10 || !(alpha > 0 && alpha < 1)) {
      throw new IllegalArgumentException("need windows of 10 or more and 0 < alpha < 1");
    }
    this.referenceSize = reference;
    this.reference = new double[reference];
    this.recent = new double[recent];
    this.checkEvery = Math.max(1, recent / 10);
    this.alpha = alpha;
  }

  @Override
  public String name() {
    return "input-ks";
  }

  /** The KS distance at the last check. */
  @Override
  public double statistic() {
    return statistic;
  }

  /** The p-value of the last check (1 before the first). */
  public double pValue() {
    return pValue;
  }

  /** Starts over: the next values form a new reference (a new model answers, say). */
  public void reset() {
    reference = new double[referenceSize];
    referenceCount = 0;
    recentCount = 0;
    next = 0;
    sinceCheck = 0;
  }

  @Override
  public boolean add(double value) {
    if (referenceCount < referenceSize) {
      reference[referenceCount++] = value;
      return false;
    }
    recent[next] = value;
    next = (next + 1) % recent.length;
    recentCount = Math.min(recentCount + 1, recent.length);
    if (recentCount < recent.length || ++sinceCheck < checkEvery) {
      return false;
    }
    sinceCheck = 0;
    return check();
  }

  private boolean check() {
    double[] now = Arrays.copyOf(recent, recent.length);
    statistic = test.kolmogorovSmirnovStatistic(reference, now);
    pValue = test.kolmogorovSmirnovTest(reference, now, false);
    if (pValue >= alpha) {
      return false;
    }
    reset();
    return true;
  }
}
