package dev.retain.drift;

import java.util.ArrayList;
import java.util.List;

/**
 * ADWIN2 (Bifet and Gavaldà, "Learning from time-changing data with adaptive windowing", SIAM SDM
 * 2007): keeps a window of the most recent values, in an exponential histogram of buckets (at most
 * {@code M} of each size 1, 2, 4, …), and drops its older part whenever the means of an older and a
 * newer sub-window differ by more than {@code ε_cut = sqrt(2 σ² m ln(2 ln n / δ)) + 2/3 m' ln(2 ln
 * n / δ)}, the bound of the paper's Theorem 3 with the window's variance σ². A change is detected
 * when that happens. Memory and time per value are O(M log n); the cuts are checked every {@code
 * clock} values, as the reference implementation does.
 */
public final class Adwin implements DriftDetector {
  private static final int MAX_BUCKETS = 5; // M: buckets of each size before two merge
  private static final int MIN_SUB_WINDOW = 5; // values each side of a cut needs
  private final double delta;
  private final int clock;
  private final boolean risesOnly;
  private final List<Row> rows = new ArrayList<>(); // row i: buckets of 2^i values, oldest first
  private long width;
  private double total;
  private double variance; // sum of squared deviations from the window's mean
  private long seen;
  private double lastCut; // the largest |mean difference| / ε at the last check
  private boolean rose; // whether the newer side of the last cut found had the higher mean

  /** One size of bucket: its buckets' totals and variances, oldest first. */
  private static final class Row {
    final double[] totals = new double[MAX_BUCKETS + 1];
    final double[] variances = new double[MAX_BUCKETS + 1];
    int count;

    void add(double sum, double var) {
      totals[count] = sum;
      variances[count] = var;
      count++;
    }

    void dropOldest(int n) {
      System.arraycopy(totals, n, totals, 0, count - n);
      System.arraycopy(variances, n, variances, 0, count - n);
      count -= n;
    }
  }

  /**
   * @param delta the confidence δ: a change is reported wrongly with probability at most δ per
   *     check (smaller: fewer false alarms, later detections)
   * @param clock how many values between two checks for a cut
   */
  public Adwin(double delta, int clock) {
    this(delta, clock, false);
  }

  /**
   * @param risesOnly report only a change to a higher mean (a classifier's error that rose); the
   *     window drops its older part on a fall as well, silently
   */
  public Adwin(double delta, int clock, boolean risesOnly) {
    if (!(delta > 0 && delta < 1) || clock < 1) {
      throw new IllegalArgumentException("need 0 < delta < 1 and clock >= 1");
    }
    this.delta = delta;
    this.clock = clock;
    this.risesOnly = risesOnly;
  }

  @Override
  public String name() {
    return "adwin";
  }

  /** Values in the window now. */
  public long width() {
    return width;
  }

  /** The window's mean. */
  public double mean() {
    return width == 0 ? 0 : total / width;
  }

  @Override
  public double statistic() {
    return lastCut;
  }

  @Override
  public boolean add(double value) {
    insert(value);
    seen++;
    return seen % clock == 0 && shrink();
  }

  private void insert(double value) {
    if (rows.isEmpty()) {
      rows.add(new Row());
    }
    if (width > 0) {
      double mean = total / width;
      variance += width * (value - mean) * (value - mean) / (width + 1);
    }
    width++;
    total += value;
    rows.get(0).add(value, 0);
    compress();
  }

  /** Merges the two oldest buckets of any row that holds more than M into one of the next row. */
  private void compress() {
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      if (row.count <= MAX_BUCKETS) {
        return;
      }
      if (i + 1 == rows.size()) {
        rows.add(new Row());
      }
      rows.get(i + 1).add(row.totals[0] + row.totals[1], merged(row, 1L << i));
      row.dropOldest(2);
    }
  }

  /** The variance of the two oldest buckets of {@code row}, each of {@code n} values, merged. */
  private static double merged(Row row, long n) {
    double d = row.totals[0] / n - row.totals[1] / n;
    return row.variances[0] + row.variances[1] + n * n * d * d / (2.0 * n);
  }

  /** Drops the oldest buckets while a cut splits the window into two different means. */
  private boolean shrink() {
    boolean changed = false;
    while (width > 2L * MIN_SUB_WINDOW && cutExists()) {
      changed |= rose || !risesOnly;
      dropOldestBucket();
    }
    return changed;
  }

  /** True when some cut between buckets, newest first, separates significantly different means. */
  private boolean cutExists() {
    double newTotal = 0;
    long newWidth = 0;
    lastCut = 0;
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      for (int k = row.count - 1; k >= 0; k--) {
        newTotal += row.totals[k];
        newWidth += 1L << i;
        long oldWidth = width - newWidth;
        if (oldWidth < MIN_SUB_WINDOW) {
          return false;
        }
        if (newWidth >= MIN_SUB_WINDOW && cut(oldWidth, total - newTotal, newWidth, newTotal)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The test of one cut: older {@code n0} values summing to {@code s0}, newer n1 to s1. */
  private boolean cut(long n0, double s0, long n1, double s1) {
    double diff = Math.abs(s0 / n0 - s1 / n1);
    double m = 1.0 / (n0 - MIN_SUB_WINDOW + 1) + 1.0 / (n1 - MIN_SUB_WINDOW + 1);
    double dd = Math.log(2 * Math.log(width) / delta);
    double epsilon = Math.sqrt(2 * m * (variance / width) * dd) + 2.0 / 3 * dd * m;
    lastCut = Math.max(lastCut, diff / epsilon);
    rose = s1 / n1 > s0 / n0;
    return diff > epsilon;
  }

  /** Removes the oldest bucket (of the largest size) from the window. */
  private void dropOldestBucket() {
    int i = rows.size() - 1;
    Row row = rows.get(i);
    long n = 1L << i;
    double bucketTotal = row.totals[0];
    double bucketMean = bucketTotal / n;
    double rest = width - n;
    double restMean = (total - bucketTotal) / rest;
    variance -=
        row.variances[0] + n * rest * (bucketMean - restMean) * (bucketMean - restMean) / width;
    variance = Math.max(0, variance);
    width -= n;
    total -= bucketTotal;
    row.dropOldest(1);
    if (row.count == 0) {
      rows.remove(i);
    }
  }
}
