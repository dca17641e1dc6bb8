package dev.retain.train;

import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.model.TensorNames;
import dev.retain.record.Example;
import dev.retain.store.HoldoutSets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scores the learner's adapter and the champion's on the same holdouts at the same moment, on the
 * domains the learner has trained on, with what the gate needs besides: each holdout's size and the
 * score of always answering its most frequent class.
 */
final class Evaluation {
  private final HoldoutSets holdouts;
  private final Progress progress;
  private final LoraNet model;
  private final Learner learner;

  Evaluation(HoldoutSets holdouts, Progress progress, LoraNet model, Learner learner) {
    this.holdouts = holdouts;
    this.progress = progress;
    this.model = model;
    this.learner = learner;
  }

  /**
   * Accuracy on the holdout of every domain the learner has trained on (the base's pretraining
   * included), in the order ingest first saw them. Ingest may hold domains the learner has not
   * reached yet: they are scored from the first consolidation after the learner trained on them.
   */
  Map<String, Double> current() {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String d : holdouts.domains()) {
      List<Example> holdout = holdouts.holdout(d);
      if (progress.knows(d) && !holdout.isEmpty()) {
        out.put(d, learner.accuracy(holdout));
      }
    }
    return out;
  }

  /**
   * The same for {@code champion}'s adapter, or the base alone (a zero adapter) when there is no
   * champion yet; the model's own adapter is back in place afterwards.
   */
  Map<String, Double> of(Map<String, SafeTensors.Tensor> champion) {
    Map<String, SafeTensors.Tensor> current = model.adapterTensors();
    model.loadAdapter(champion != null ? champion : zeroAdapter(current));
    try {
      return current();
    } finally {
      model.loadAdapter(current);
    }
  }

  Map<String, Integer> holdoutSizes(Iterable<String> domains) {
    Map<String, Integer> out = new LinkedHashMap<>();
    domains.forEach(d -> out.put(d, holdouts.holdout(d).size()));
    return out;
  }

  /** Per domain, the share of its holdout's most frequent class: what a constant answer scores. */
  Map<String, Double> majorityBaseline(Iterable<String> domains) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String d : domains) {
      List<Example> holdout = holdouts.holdout(d);
      Map<Integer, Integer> counts = new HashMap<>();
      holdout.forEach(e -> counts.merge(e.label(), 1, Integer::sum));
      int most = counts.values().stream().mapToInt(Integer::intValue).max().orElse(0);
      out.put(d, holdout.isEmpty() ? 0.0 : most / (double) holdout.size());
    }
    return out;
  }

  /** The same tensors with every LoRA B zero: an adapter that changes nothing. */
  private static Map<String, SafeTensors.Tensor> zeroAdapter(Map<String, SafeTensors.Tensor> like) {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>(like);
    out.replaceAll(
        (k, t) ->
            TensorNames.isLoraB(k)
                ? new SafeTensors.Tensor(t.shape(), new float[t.data().length])
                : t);
    return out;
  }
}
