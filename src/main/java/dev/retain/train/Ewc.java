package dev.retain.train;

import dev.retain.model.SafeTensors;
import java.util.List;
import java.util.Map;

/**
 * The EWC state of an adapter laid out as one vector: the diagonal Fisher, merged online at each
 * consolidation ({@code F ← γF + F_new}), and the anchors θ*; the penalty {@code (λ/2) Σ F (θ −
 * θ*)²} and its gradient. Empty until the first consolidation.
 */
final class Ewc {
  /** The prefix of every tensor name this state writes into a checkpoint. */
  static final String PREFIX = "ewc.";

  private static final String FISHER = PREFIX + "fisher.";
  private static final String ANCHOR = PREFIX + "anchor.";
  private final int size;
  private final float lambda;
  private final float gamma;
  private float[] fisher; // null before the first consolidation
  private float[] anchors;

  Ewc(int size, float lambda, float gamma) {
    this.size = size;
    this.lambda = lambda;
    this.gamma = gamma;
  }

  /** True once a consolidation has set a Fisher and anchors. */
  boolean consolidated() {
    return fisher != null;
  }

  /** True when steps pay a penalty: consolidated with λ above 0. */
  boolean penalising() {
    return fisher != null && lambda > 0;
  }

  /**
   * Adds the penalty's gradient {@code λ F (θ − θ*)} to {@code grads} (unless null) and returns the
   * penalty {@code (λ/2) Σ F (θ − θ*)²} at {@code theta}.
   */
  float addPenalty(float[] theta, float[] grads) {
    double sum = 0;
    for (int i = 0; i < size; i++) {
      float weighted = fisher[i] * (theta[i] - anchors[i]); // F (θ − θ*)
      sum += weighted * (theta[i] - anchors[i]);
      if (grads != null) {
        grads[i] += lambda * weighted;
      }
    }
    return (float) (lambda / 2 * sum);
  }

  /** The penalty at {@code theta} (0 before the first consolidation). */
  float penalty(float[] theta) {
    return fisher == null ? 0f : addPenalty(theta, null);
  }

  /** Merges a new Fisher estimate into the old one and moves the anchors to {@code theta}. */
  void consolidate(float[] estimate, float[] theta) {
    if (fisher != null) {
      for (int i = 0; i < size; i++) {
        estimate[i] += gamma * fisher[i];
      }
    }
    fisher = estimate;
    anchors = theta;
  }

  /** Adds the Fisher and the anchors to {@code tensors}, split per adapter parameter. */
  void save(Map<String, SafeTensors.Tensor> tensors, List<long[]> shapes) {
    if (fisher != null) {
      tensors.putAll(Vectors.split(FISHER, fisher, shapes));
      tensors.putAll(Vectors.split(ANCHOR, anchors, shapes));
    }
  }

  /** Restores what {@link #save} wrote; empty when it wrote nothing. */
  void restore(Map<String, SafeTensors.Tensor> tensors, List<long[]> shapes) {
    fisher = null;
    anchors = null;
    if (tensors.containsKey(FISHER + 0)) {
      fisher = new float[size];
      anchors = new float[size];
      Vectors.join(tensors, FISHER, shapes, fisher);
      Vectors.join(tensors, ANCHOR, shapes, anchors);
    }
  }
}
