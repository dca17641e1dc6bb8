package dev.retain.train;

import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.List;

/**
 * A step's rows in the order the model sees them: the fresh ones first, then the replayed ones
 * whose first-layer output is computed in the step, then those whose output is cached (the tail
 * that {@link dev.retain.model.LoraNet#pass} takes). When a prefetch has the fresh rows' output
 * ready, those rows are its head. The order is the same with a prefetch or without, so that the
 * prefetch changes nothing but which thread computes the fresh rows' product.
 */
final class StepRows {
  final List<Example> examples;
  final float[][] targets;
  final List<float[]> head; // first-layer rows [0, freshEnd), or none
  final List<float[]> tail = new ArrayList<>(); // cached first-layer rows [computedEnd, n)
  final int freshEnd; // rows [0, freshEnd): fresh
  int computedEnd; // rows [freshEnd, computedEnd): replayed, first layer computed in the step
  private final int[] given; // row -> index in fresh followed by replayed

  private StepRows(int n, int freshEnd, List<float[]> head) {
    examples = new ArrayList<>(n);
    targets = new float[n][];
    given = new int[n];
    this.freshEnd = freshEnd;
    this.head = head;
  }

  /**
   * Arranges {@code fresh} and {@code replayed} (with their logit targets, or none), given the
   * fresh rows' prefetched first layer ({@code head}, all or none) and the replayed rows' cache
   * (null where the base has no frozen first layer).
   */
  static StepRows arrange(
      List<Example> fresh,
      List<Example> replayed,
      List<float[]> targets,
      List<float[]> head,
      FirstLayerCache cache) {
    StepRows rows = new StepRows(fresh.size() + replayed.size(), fresh.size(), head);
    for (int i = 0; i < fresh.size(); i++) {
      rows.add(fresh.get(i), i, null);
    }
    List<Integer> ready = new ArrayList<>();
    for (int j = 0; j < replayed.size(); j++) {
      float[] cached = cache == null ? null : cache.get(replayed.get(j));
      if (cached != null) {
        ready.add(j);
        rows.tail.add(cached);
      } else {
        rows.addReplayed(replayed, targets, j);
      }
    }
    rows.computedEnd = rows.examples.size();
    ready.forEach(j -> rows.addReplayed(replayed, targets, j));
    return rows;
  }

  private void addReplayed(List<Example> replayed, List<float[]> targets, int j) {
    add(replayed.get(j), freshEnd + j, targets.isEmpty() ? null : targets.get(j));
  }

  private void add(Example example, int givenIndex, float[] target) {
    given[examples.size()] = givenIndex;
    targets[examples.size()] = target;
    examples.add(example);
  }

  int size() {
    return examples.size();
  }

  int[] labels() {
    return examples.stream().mapToInt(Example::label).toArray();
  }

  /** {@code out} with its rows put back in the given order (fresh first, then replayed). */
  float[] inGivenOrder(float[] out, int classes) {
    float[] logits = new float[out.length];
    for (int r = 0; r < given.length; r++) {
      System.arraycopy(out, r * classes, logits, given[r] * classes, classes);
    }
    return logits;
  }
}
