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
    double loss = 0;
    for (int i = 0; i < n; i++) {
      int row = i * classes;
      int label = labels[i];
      if (label < 0 || label >= classes) {
        throw new IllegalArgumentException("label " + label + " outside 0.." + (classes - 1));
      }
      boolean masked = i < aceRows;
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < classes; c++) {
        if (!masked || present[c]) {
          max = Math.max(max, logits[row + c]);
        }
      }
      double sum = 0;
      for (int c = 0; c < classes; c++) {
        exp[c] = masked && !present[c] ? 0 : Math.exp(logits[row + c] - max);
        sum += exp[c];
      }
      loss += (Math.log(sum) + max - logits[row + label]) / n;
      for (int c = 0; c < classes; c++) {
        double g = (exp[c] / sum - (c == label ? 1 : 0)) / n;
        if (targets[i] != null && weight > 0 && !Float.isNaN(targets[i][c])) {
          double d = logits[row + c] - targets[i][c];
          loss += weight * d * d;
          g += 2 * weight * d;
        }
        gradient[row + c] = (float) g;
      }
    }
    return new Result(loss, gradient);
  }
}
