package dev.retain.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import dev.retain.model.LoraNet;
import dev.retain.model.Tensors;
import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Trains a model's base weights (not its adapter) on a data set, then freezes them again: the
 * pretraining that gives the frozen base its skills.
 */
public final class Pretrainer {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Pretrainer.class);

  private Pretrainer() {}

  /** Trains the base for {@code epochs} passes over {@code examples} in shuffled mini-batches. */
  /** Trains the base; returns the steps skipped for a non-finite gradient (normally 0). */
  public static long train(
      LoraNet model, List<Example> examples, int epochs, int batchSize, float lr, long seed) {
    List<NDArray> base = model.baseParameters();
    List<NDArray> adapter = model.adapterParameters();
    // the adapter stays out of the graph: otherwise its gradients (never cleared by this Adam)
    // would pile up over every pretraining step and land in the learner's first update
    adapter.forEach(p -> p.setRequiresGradient(false));
    base.forEach(p -> p.setRequiresGradient(true));
    Adam adam = new Adam(base, lr);
    Batch batch = new Batch(model.features());
    List<Example> order = new ArrayList<>(examples);
    Random random = new Random(seed);
    for (int epoch = 0; epoch < epochs; epoch++) {
      Collections.shuffle(order, random);
      for (int i = 0; i < order.size(); i += batchSize) {
        List<Example> part = order.subList(i, Math.min(order.size(), i + batchSize));
        try (NDScope scope = new NDScope();
            NDManager sub = model.manager().newSubManager()) {
          scope.suppressNotUsedWarning();
          try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.forward(batch.inputs(sub, part));
            // the loss and its gradient on the host, as the learner does: the graph then holds
            // no index array built from Java memory (the engine's own loss gathers the labels
            // through one, which a garbage collection could free before the backward pass)
            float[] values = Tensors.floats(logits);
            int classes = values.length / part.size();
            int[] labels = part.stream().mapToInt(Example::label).toArray();
            float[] gradient =
                LossHead.evaluate(values, classes, labels, new float[part.size()][], 0f).gradient();
            collector.backward(
                logits.mul(batch.gradient(sub, gradient, part.size(), classes)).sum());
          }
          adam.step();
        }
      }
    }
    if (adam.skipped() > 0) {
      LOG.warn(
          "pretraining skipped {} steps with a non-finite gradient (of {} epochs over {} examples)",
          adam.skipped(),
          epochs,
          examples.size());
    }
    base.forEach(p -> p.setRequiresGradient(false));
    adapter.forEach(p -> p.setRequiresGradient(true));
    model.baseChanged();
    return adam.skipped();
  }
}
