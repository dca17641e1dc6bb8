package dev.retain.train;

/**
 * A step's loss, computed on the host from the logits, with its gradient with respect to them: mean
 * cross-entropy over all rows, plus logit replay (as in DER++) over the rows that have a target (a
 * NaN in a target leaves that logit free): {@code alpha} times the mean squared difference between
 * their logits and the target. The logits are a few floats per row, so this costs microseconds and
 * saves the engine a dozen small operations and their backward pass every step.
 */
final class LossHead {
  private LossHead() {}

  /**
   * The loss and its gradient with respect to the logits.
   *
   * @param gradient row after row, like the logits
   */
  record Result(double loss, float[] gradient) {}

  /**
   * @param logits n rows of {@code classes} values
   * @param labels each row's class
   * @param targets each row's logit target, or null where it has none
   * @param alpha weight of logit replay
   */
  static Result evaluate(
      float[] logits, int classes, int[] labels, float[][] targets, float alpha) {
    return evaluate(logits, classes, labels, targets, alpha, 0);
  }

  /**
   * The same, with the asymmetric cross-entropy of ER-ACE (Caccia et al., 2022) for the first
   * {@code aceRows} rows, the new examples: their softmax runs only over the classes present among
   * them, so learning new classes does not push down the logits of the old ones, which only the
   * replayed rows (full softmax) speak for. This removes the output layer's bias towards the newest
   * classes in class-incremental streams, and changes nothing when every class is present.
   */
  static Result evaluate(
      float[] logits, int classes, int[] labels, float[][] targets, float alpha, int aceRows) {
    int n = labels.length;
    boolean[] present = new boolean[classes];
    for (int i = 0; i < aceRows; i++) {
      present[labels[i]] = true;
    }
    int targeted = 0;
    for (float[] t : targets) {
      targeted += t != null ? 1 : 0;
    }
    double weight = targeted > 0 ? alpha / ((double) targeted * classes) : 0;
    float[] gradient = new float[logits.length];
    double[] exp = new double[classes]; // each row's exp(logit - max), computed once
    double[] g = new double[classes]; // each row's gradient, rounded to float once
    double loss = 0;
    for (int i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        throw new IllegalArgumentException("label " + labels[i] + " outside 0.." + (classes - 1));
      }
      Row row = new Row(logits, i * classes, classes, i < aceRows ? present : null);
      loss += row.crossEntropy(labels[i], exp, n, g);
      loss += row.logitReplay(targets[i], weight, g);
      for (int c = 0; c < classes; c++) {
        gradient[i * classes + c] = (float) g[c];
      }
    }
    return new Result(loss, gradient);
  }

  /**
   * One row of logits from {@code offset}; with {@code present}, the softmax counts only the
   * classes present (ER-ACE), otherwise all of them.
   */
  private record Row(float[] logits, int offset, int classes, boolean[] present) {
    private boolean counts(int c) {
      return present == null || present[c];
    }

    /** The row's cross-entropy over {@code n} rows; its gradient goes into {@code g}. */
    double crossEntropy(int label, double[] exp, int n, double[] g) {
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < classes; c++) {
        max = counts(c) ? Math.max(max, logits[offset + c]) : max;
      }
      double sum = 0;
      for (int c = 0; c < classes; c++) {
        exp[c] = counts(c) ? Math.exp(logits[offset + c] - max) : 0;
        sum += exp[c];
      }
      for (int c = 0; c < classes; c++) {
        g[c] = (exp[c] / sum - (c == label ? 1 : 0)) / n;
      }
      return (Math.log(sum) + max - logits[offset + label]) / n;
    }

    /** The logit-replay term {@code weight (z - target)²} over the targeted classes. */
    double logitReplay(float[] target, double weight, double[] g) {
      if (target == null || weight <= 0) {
        return 0;
      }
      double loss = 0;
      for (int c = 0; c < classes; c++) {
        if (!Float.isNaN(target[c])) {
          double d = logits[offset + c] - target[c];
          loss += weight * d * d;
          g[c] += 2 * weight * d;
        }
      }
      return loss;
    }
  }
}
