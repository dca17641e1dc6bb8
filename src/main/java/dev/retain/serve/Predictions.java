package dev.retain.serve;

import java.util.List;

/**
 * What one version of the model answers for a batch: logits, probabilities, the predicted class and
 * its probability per instance. Both request formats (Retain's and KServe's) are answered from
 * this, and each answer is logged once.
 */
record Predictions(
    String version, float[][] logits, float[][] probabilities, int[] classes, float[] scores) {

  /**
   * Runs {@code serving} on {@code instances}.
   *
   * @throws IllegalArgumentException when finite inputs are so large that an output overflows (no
   *     answer, rather than NaN)
   */
  static Predictions of(ServingModel serving, List<float[]> instances) {
    float[][] logits = serving.logits(instances);
    float[][] probabilities = new float[logits.length][];
    int[] classes = new int[logits.length];
    float[] scores = new float[logits.length];
    for (int i = 0; i < logits.length; i++) {
      probabilities[i] = ServingModel.softmax(logits[i]);
      classes[i] = argMax(probabilities[i]);
      scores[i] = probabilities[i][classes[i]];
      if (!Float.isFinite(scores[i])) {
        throw new IllegalArgumentException(
            "instance " + i + ": inputs too large, the model's output overflows");
      }
    }
    return new Predictions(serving.version(), logits, probabilities, classes, scores);
  }

  int size() {
    return classes.length;
  }

  /** Writes every prediction to the log, with its id (null where none was given). */
  void log(PredictionLog log, List<String> ids, List<float[]> instances) {
    for (int i = 0; i < size(); i++) {
      log.write(ids.get(i), version, classes[i], scores[i], instances.get(i));
    }
  }

  private static int argMax(float[] p) {
    int best = 0;
    for (int i = 1; i < p.length; i++) {
      if (p[i] > p[best]) {
        best = i;
      }
    }
    return best;
  }
}
