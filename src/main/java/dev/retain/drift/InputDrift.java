package dev.retain.drift;

import dev.retain.config.RetainConfig;
import java.util.Arrays;
import org.apache.commons.math3.stat.inference.KolmogorovSmirnovTest;

/**
 * Drift in unlabeled inputs, seen through a summary of a few numbers per input (serving uses the
 * prediction's confidence and {@link InputSummary}'s projections, the learner the projections): per
 * number, a two-sample Kolmogorov-Smirnov test between a reference window (the first {@code
 * reference} values of a regime) and a sliding window of the {@code recent} latest, every {@code
 * recent / 10} inputs. A drift is detected when one test's p-value is below {@code alpha / dims}
 * (Bonferroni: the false-alarm rate of a check stays at most {@code alpha}). A detection starts a
 * new regime: the next {@code reference} inputs become its reference.
 */
public final class InputDrift implements DriftDetector {
  private final int dims;
  private final int referenceSize;
  private final double[][] recent; // [dim][slot]
  private final int checkEvery;
  private final double alpha;
  private final KolmogorovSmirnovTest test = new KolmogorovSmirnovTest();
  private double[][] reference; // [dim][slot]
  private int referenceCount;
  private int recentCount; // inputs in the ring so far, up to its length
  private int next; // the ring's next slot
  private long sinceCheck;
  private double statistic;
  private double pValue = 1;

  /** A test of one number per input. */
  public InputDrift(int reference, int recent, double alpha) {
    this(1, reference, recent, alpha);
  }

  public InputDrift(int dims, int reference, int recent, double alpha) {
    if (dims < 1 || reference < 10 || recent < 10 || !(alpha > 0 && alpha < 1)) {
      throw new IllegalArgumentException("need dims >= 1, windows of 10 or more and 0 < alpha < 1");
    }
    this.dims = dims;
    this.referenceSize = reference;
    this.reference = new double[dims][reference];
    this.recent = new double[dims][recent];
    this.checkEvery = Math.max(1, recent / 10);
    this.alpha = alpha;
  }

  /** A test of {@code dims} numbers per input with the {@code retain.drift.input.*} settings. */
  public static InputDrift configured(RetainConfig config, int dims) {
    return new InputDrift(
        dims,
        config.getInt(RetainConfig.DRIFT_INPUT_REFERENCE),
        config.getInt(RetainConfig.DRIFT_INPUT_WINDOW),
        config.getDouble(RetainConfig.DRIFT_INPUT_ALPHA));
  }

  /** Numbers per input. */
  public int dims() {
    return dims;
  }

  @Override
  public String name() {
    return "input-ks";
  }

  /** The largest KS distance at the last check. */
  @Override
  public double statistic() {
    return statistic;
  }

  /** The smallest p-value of the last check, times the number of tests (1 before the first). */
  public double pValue() {
    return pValue;
  }

  /** Starts over: the next inputs form a new reference (a new model answers, say). */
  public void reset() {
    reference = new double[dims][referenceSize];
    referenceCount = 0;
    recentCount = 0;
    next = 0;
    sinceCheck = 0;
  }

  @Override
  public boolean add(double value) {
    return add(new double[] {value});
  }

  /** Adds one input's summary ({@code dims} numbers); true when a drift was detected. */
  public boolean add(double[] summary) {
    if (referenceCount < referenceSize) {
      put(reference, referenceCount++, summary);
      return false;
    }
    put(recent, next, summary);
    next = (next + 1) % recent[0].length;
    recentCount = Math.min(recentCount + 1, recent[0].length);
    if (recentCount < recent[0].length || ++sinceCheck < checkEvery) {
      return false;
    }
    sinceCheck = 0;
    return check();
  }

  private void put(double[][] window, int slot, double[] summary) {
    for (int d = 0; d < dims; d++) {
      window[d][slot] = summary[d];
    }
  }

  private boolean check() {
    double largest = 0;
    double smallestP = 1;
    for (int d = 0; d < dims; d++) {
      double[] now = Arrays.copyOf(recent[d], recent[d].length);
      largest = Math.max(largest, test.kolmogorovSmirnovStatistic(reference[d], now));
      smallestP = Math.min(smallestP, test.kolmogorovSmirnovTest(reference[d], now, false));
    }
    statistic = largest;
    pValue = Math.min(1, smallestP * dims);
    if (pValue >= alpha) {
      return false;
    }
    reset();
    return true;
  }

  /**
   * The Bonferroni-corrected p-value that {@code a} and {@code b}, two samples of summaries ({@code
   * [input][dim]}), come from one distribution: the smallest per-dimension KS p-value times the
   * number of dimensions, at most 1.
   */
  public static double sameDistribution(double[][] a, double[][] b) {
    KolmogorovSmirnovTest test = new KolmogorovSmirnovTest();
    int dims = a[0].length;
    double smallest = 1;
    for (int d = 0; d < dims; d++) {
      smallest = Math.min(smallest, test.kolmogorovSmirnovTest(column(a, d), column(b, d), false));
    }
    return Math.min(1, smallest * dims);
  }

  private static double[] column(double[][] rows, int d) {
    double[] out = new double[rows.length];
    for (int i = 0; i < rows.length; i++) {
      out[i] = rows[i][d];
    }
    return out;
  }
}
