package dev.retain.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.Loss;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.model.Tensors;
import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a model's LoRA adapter online: each step learns from new examples joined with replayed
 * ones, minimising cross-entropy plus the EWC penalty {@code (λ/2) Σ F_i (θ_i − θ*_i)²}. At each
 * consolidation the diagonal Fisher is re-estimated per sample and merged online ({@code F ← γF +
 * F_new}) and the anchors move to the current weights. The only class that mutates the adapter. Not
 * thread-safe: one training thread.
 */
public final class Learner {
  private static final Logger LOG = LoggerFactory.getLogger(Learner.class);
  private static final Loss CROSS_ENTROPY = Loss.softmaxCrossEntropyLoss();
  private static final NDIndex EVERYTHING = new NDIndex("...");
  private final LoraNet model;
  private final List<NDArray> params;
  private final Adam adam;
  private final Batch batch;
  private final float lambda;
  private final float gamma;
  private final List<NDArray> fisher = new ArrayList<>();
  private final List<NDArray> anchors = new ArrayList<>();
  private long steps;
  private long skipped;

  public Learner(LoraNet model, int features, float learningRate, float lambda, float gamma) {
    this.model = model;
    this.params = model.adapterParameters();
    this.adam = new Adam(params, learningRate);
    this.batch = new Batch(features);
    this.lambda = lambda;
    this.gamma = gamma;
  }

  /**
   * What one step measured.
   *
   * @param loss cross-entropy plus EWC penalty plus logit replay
   * @param freshCorrect new examples the model classified right before learning from them
   *     (prequential, test-then-train)
   * @param logits the logits before the update, row after row: fresh examples first
   */
  public record StepResult(float loss, int freshCorrect, float[] logits) {
    public StepResult(float loss, int freshCorrect) {
      this(loss, freshCorrect, new float[0]);
    }
  }

  /** One optimisation step on {@code fresh} joined with {@code replayed}. */
  public StepResult step(List<Example> fresh, List<Example> replayed) {
    return step(fresh, replayed, List.of(), 0f);
  }

  /**
   * One step that also pulls the replayed examples' logits towards {@code targets} (logit replay,
   * as in DER++): {@code alpha} times the mean squared difference, over replayed rows whose target
   * is not null.
   */
  public StepResult step(
      List<Example> fresh, List<Example> replayed, List<float[]> targets, float alpha) {
    List<Example> all = new ArrayList<>(fresh.size() + replayed.size());
    all.addAll(fresh);
    all.addAll(replayed);
    if (all.isEmpty()) {
      return new StepResult(0f, 0);
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      StepResult result;
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray x = batch.inputs(sub, all);
        NDArray y = batch.labels(sub, all);
        NDArray logits = model.forward(x);
        NDArray loss = CROSS_ENTROPY.evaluate(new NDList(y), new NDList(logits));
        if (!fisher.isEmpty() && lambda > 0) {
          loss = loss.add(penalty(sub));
        }
        if (alpha > 0 && targets.stream().anyMatch(t -> t != null)) {
          loss = loss.add(logitReplay(sub, logits, fresh.size(), targets, alpha));
        }
        collector.backward(loss);
        float[] out = logits.toFloatArray();
        result = new StepResult(loss.getFloat(), correct(out, out.length / all.size(), fresh), out);
        if (!Float.isFinite(result.loss())) {
          // a diverged batch must not poison the adapter: drop its gradients (overwritten, as
          // NaN - NaN is still NaN), keep the weights
          params.forEach(p -> p.getGradient().set(EVERYTHING, 0f));
          skipped++;
          LOG.warn("skipped a step with a non-finite loss ({}); {} so far", result, skipped);
          return result;
        }
      }
      adam.step(); // outside the collector: leaf parameters are updated in place
      steps++;
      return result;
    }
  }

  /** How many of the first {@code fresh.size()} rows of {@code logits} predict their label. */
  private static int correct(float[] logits, int classes, List<Example> fresh) {
    int correct = 0;
    for (int i = 0; i < fresh.size(); i++) {
      int best = 0;
      for (int c = 1; c < classes; c++) {
        best = logits[i * classes + c] > logits[i * classes + best] ? c : best;
      }
      correct += best == fresh.get(i).label() ? 1 : 0;
    }
    return correct;
  }

  /**
   * {@code alpha} times the mean squared difference between the replayed rows' logits (from row
   * {@code offset}) and their targets, over the rows that have one. The constant factors go into
   * the row weights, built here as arrays of {@code sub}, which outlives the backward pass: an
   * array the engine makes from a Java number for {@code mul(Number)} is freed too early (see
   * {@link LoraNet}).
   */
  private static NDArray logitReplay(
      NDManager sub, NDArray logits, int offset, List<float[]> targets, float alpha) {
    int classes = (int) logits.getShape().get(1);
    float[] t = new float[targets.size() * classes];
    float[] weight = new float[targets.size()];
    int count = (int) targets.stream().filter(Objects::nonNull).count();
    for (int i = 0; i < targets.size(); i++) {
      if (targets.get(i) != null) {
        System.arraycopy(targets.get(i), 0, t, i * classes, classes);
        weight[i] = alpha / (count * classes);
      }
    }
    NDArray replayed = logits.get(new NDIndex(offset + ":"));
    NDArray diff = replayed.sub(sub.create(t, new Shape(targets.size(), classes)));
    return diff.square().mul(sub.create(weight, new Shape(targets.size(), 1))).sum();
  }

  /** (λ/2) Σ F (θ − θ*)², with λ/2 as an array of {@code scope} (see {@link #logitReplay}). */
  private NDArray penalty(NDManager scope) {
    NDArray sum = null;
    for (int i = 0; i < params.size(); i++) {
      NDArray term = params.get(i).sub(anchors.get(i)).square().mul(fisher.get(i)).sum();
      sum = sum == null ? term : sum.add(term);
    }
    return sum.mul(scope.create(lambda / 2));
  }

  /** The EWC penalty at the current weights (0 before the first consolidation). */
  public float ewcPenalty() {
    if (fisher.isEmpty()) {
      return 0f;
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      return penalty(sub).getFloat();
    }
  }

  /**
   * Re-estimates the diagonal Fisher from per-sample gradients of {@code recent}, merges it online
   * with the old one and moves the anchors to the current weights.
   */
  public void consolidate(List<Example> recent) {
    List<NDArray> fresh = new ArrayList<>();
    params.forEach(p -> fresh.add(model.manager().zeros(p.getShape())));
    for (Example example : recent) {
      try (NDScope scope = new NDScope();
          NDManager sub = model.manager().newSubManager();
          GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        scope.suppressNotUsedWarning();
        List<Example> one = List.of(example);
        NDArray loss =
            CROSS_ENTROPY.evaluate(
                new NDList(batch.labels(sub, one)),
                new NDList(model.forward(batch.inputs(sub, one))));
        collector.backward(loss);
        for (int i = 0; i < params.size(); i++) {
          fresh.get(i).addi(params.get(i).getGradient().square().div(recent.size()));
        }
        collector.zeroGradients(); // gradients are only cleared by an update otherwise
      }
    }
    merge(fresh);
  }

  private void merge(List<NDArray> fresh) {
    for (int i = 0; i < params.size(); i++) {
      if (fisher.size() <= i) {
        fisher.add(fresh.get(i));
        anchors.add(detachedCopy(params.get(i)));
      } else {
        fisher.get(i).muli(gamma).addi(fresh.get(i));
        fresh.get(i).close();
        anchors.get(i).close();
        anchors.set(i, detachedCopy(params.get(i)));
      }
    }
  }

  private static NDArray detachedCopy(NDArray param) {
    try (NDArray detached = param.stopGradient()) {
      return detached.duplicate();
    }
  }

  /** The current model's logits for {@code examples}, row after row. */
  public float[] logits(List<Example> examples) {
    if (examples.isEmpty()) {
      return new float[0];
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      return model.forward(batch.inputs(sub, examples)).toFloatArray();
    }
  }

  /** Accuracy of the current model on {@code examples}. */
  public double accuracy(List<Example> examples) {
    if (examples.isEmpty()) {
      return Double.NaN;
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      NDArray predicted = model.forward(batch.inputs(sub, examples)).argMax(1);
      NDArray truth = batch.labels(sub, examples);
      return predicted.eq(truth).sum().getLong() / (double) examples.size();
    }
  }

  public long steps() {
    return steps;
  }

  /** Steps whose loss was not finite, so that no update was made. */
  public long skippedSteps() {
    return skipped;
  }

  /** True once a consolidation has set a Fisher and anchors. */
  public boolean consolidated() {
    return !fisher.isEmpty();
  }

  /**
   * Everything a restart needs to continue exactly: adapter, optimizer moments, Fisher and anchors
   * as tensors, and the step counters as metadata.
   */
  public SafeTensors.Contents checkpoint() {
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(model.adapterTensors());
    tensors.putAll(adam.state());
    for (int i = 0; i < fisher.size(); i++) {
      tensors.put("ewc.fisher." + i, Tensors.of(fisher.get(i)));
      tensors.put("ewc.anchor." + i, Tensors.of(anchors.get(i)));
    }
    Map<String, String> meta =
        Map.of("steps", Long.toString(steps), "adam.updates", Integer.toString(adam.updates()));
    return new SafeTensors.Contents(tensors, meta);
  }

  /** Continues from what {@link #checkpoint()} returned; call before the first step. */
  public void restore(SafeTensors.Contents state) {
    model.loadAdapter(state.tensors());
    adam.restore(state.tensors(), Integer.parseInt(state.metadata().get("adam.updates")));
    steps = Long.parseLong(state.metadata().get("steps"));
    fisher.forEach(NDArray::close);
    anchors.forEach(NDArray::close);
    fisher.clear();
    anchors.clear();
    if (state.tensors().containsKey("ewc.fisher.0")) {
      for (int i = 0; i < params.size(); i++) {
        fisher.add(Tensors.create(model.manager(), state.tensors().get("ewc.fisher." + i)));
        anchors.add(Tensors.create(model.manager(), state.tensors().get("ewc.anchor." + i)));
      }
    }
  }
}
