package dev.retain.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The continual-learning accuracy matrix: row i holds the accuracy on every domain seen so far,
 * measured after learning domain i. From it: average accuracy, forgetting per domain (best earlier
 * accuracy minus current) and backward transfer. Thread-safe: the learner writes, readers copy.
 */
public final class AccuracyMatrix implements RetentionReport {
  private final java.util.Set<String> pretrained = new java.util.HashSet<>();

  private final List<Map<String, Double>> rows = new ArrayList<>();
  private final List<String> learned = new ArrayList<>();

  /** Adds the row measured after learning {@code learned}. */
  public synchronized void record(String learned, Map<String, Double> accuracy) {
    rows.add(new LinkedHashMap<>(accuracy));
    this.learned.add(learned);
  }

  /** Per row, the domain learned just before it was measured. */
  public synchronized List<String> learned() {
    return List.copyOf(learned);
  }

  @Override
  public synchronized Map<String, Double> current() {
    return rows.isEmpty() ? Map.of() : new LinkedHashMap<>(rows.get(rows.size() - 1));
  }

  @Override
  public synchronized double averageAccuracy() {
    return current().values().stream()
        .mapToDouble(Double::doubleValue)
        .average()
        .orElse(Double.NaN);
  }

  @Override
  public synchronized Map<String, Double> forgetting() {
    Map<String, Double> out = new LinkedHashMap<>();
    Map<String, Double> now = current();
    for (String domain : now.keySet()) {
      double best = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < rows.size() - 1; i++) {
        best = Math.max(best, rows.get(i).getOrDefault(domain, Double.NEGATIVE_INFINITY));
      }
      out.put(domain, best == Double.NEGATIVE_INFINITY ? 0.0 : best - now.get(domain));
    }
    return out;
  }

  /**
   * Mean over earlier domains j of R[last][j] − R[j][j]: accuracy on j now minus accuracy on j
   * right after learning it (the first row recorded with j as the learned domain); domains never
   * learned in a row of their own (a pretraining domain) and the domain learned last are left out.
   * Negative values mean forgetting.
   */
  @Override
  public synchronized double backwardTransfer() {
    Map<String, Double> now = current();
    double sum = 0;
    int n = 0;
    for (String domain : now.keySet()) {
      int row = learned.indexOf(domain);
      if (row >= 0 && row < rows.size() - 1 && rows.get(row).containsKey(domain)) {
        sum += now.get(domain) - rows.get(row).get(domain);
        n++;
      }
    }
    return n == 0 ? 0.0 : sum / n;
  }

  /** A copy of every row, oldest first. */
  public synchronized List<Map<String, Double>> rows() {
    List<Map<String, Double>> out = new ArrayList<>();
    rows.forEach(r -> out.add(new LinkedHashMap<>(r)));
    return out;
  }

  /**
   * Cells of the matrix whose domain the learner had not reached when the row was recorded: a
   * domain scored before it was learned (0 when evaluation follows what was trained).
   */
  /**
   * Notes domains learned before the first row, by the base's pretraining (which may span more than
   * one domain); only {@link #scoredBeforeLearned} reads them.
   */
  public synchronized void pretrainedOn(java.util.Collection<String> domains) {
    pretrained.addAll(domains);
  }

  public synchronized int scoredBeforeLearned() {
    List<Map<String, Double>> rows = rows();
    List<String> learned = learned();
    int early = 0;
    for (int i = 0; i < rows.size(); i++) {
      java.util.Set<String> reached = new java.util.HashSet<>(learned.subList(0, i + 1));
      reached.addAll(pretrained);
      for (String domain : rows.get(i).keySet()) {
        early += reached.contains(domain) ? 0 : 1;
      }
    }
    return early;
  }
}
