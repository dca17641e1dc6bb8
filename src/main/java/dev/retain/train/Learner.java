package dev.retain.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import dev.retain.model.LoraNet;
import dev.retain.model.Pass;
import dev.retain.model.SafeTensors;
import dev.retain.model.Tensors;
import dev.retain.record.Example;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a model's LoRA adapter online: each step learns from new examples joined with replayed
 * ones, minimising cross-entropy plus the EWC penalty {@code (λ/2) Σ F_i (θ_i − θ*_i)²}. At each
 * consolidation the diagonal Fisher is re-estimated per sample and merged online ({@code F ← γF +
 * F_new}) and the anchors move to the current weights. The only class that mutates the adapter. Not
 * thread-safe: one training thread.
 */
public final class Learner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Learner.class);

  /** First-layer outputs cached by default: twice the default replay buffer. */
  public static final int DEFAULT_CACHED_ROWS = 4096;

  private static final String STEPS = "steps"; // checkpoint metadata
  private static final String ADAM_UPDATES = "adam.updates";

  private final LoraNet model;
  private final List<long[]> shapes; // of the adapter's parameters, in the vectors' order
  private final int size; // values in the adapter
  private final HostAdam adam;
  private final Batch batch;
  private final Ewc ewc;
  private final FirstLayerCache cache;
  private final Prefetcher prefetcher;
  private long steps;
  private long skipped;
  private boolean aceFresh; // see setAceFresh

  public Learner(LoraNet model, int features, float learningRate, float lambda, float gamma) {
    this(model, features, learningRate, lambda, gamma, DEFAULT_CACHED_ROWS);
  }

  /**
   * @param cacheRows how many replayed examples' first-layer outputs to keep (0: none); each costs
   *     the first layer's width in floats. Only an MLP base has a frozen first layer.
   */
  public Learner(
      LoraNet model, int features, float learningRate, float lambda, float gamma, int cacheRows) {
    this.model = model;
    this.shapes = model.adapterParameters().stream().map(p -> p.getShape().getShape()).toList();
    this.size = model.adapterSize();
    this.adam = new HostAdam(size, learningRate);
    this.batch = new Batch(features);
    this.ewc = new Ewc(size, lambda, gamma);
    this.cache = new FirstLayerCache(cacheRows);
    this.prefetcher = new Prefetcher(model, features);
  }

  /**
   * With {@code ace}, the new examples' cross-entropy counts only the classes present among them
   * (ER-ACE); replayed examples keep the full softmax. Off by default in this class.
   */
  public Learner setAceFresh(boolean ace) {
    this.aceFresh = ace;
    return this;
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
   * is not null. The loss and its gradient with respect to the logits are computed on the host
   * ({@link LossHead}); the model turns that gradient into the adapter's ({@link LoraNet#pass}).
   * The rest is done on the host, on the adapter as one vector: the EWC penalty and its gradient
   * {@code λ F (θ − θ*)}, and Adam ({@link HostAdam}). Replayed rows whose first-layer output is
   * cached skip that layer's frozen product.
   */
  public StepResult step(
      List<Example> fresh, List<Example> replayed, List<float[]> targets, float alpha) {
    StepRows rows = arrange(fresh, replayed, alpha > 0 ? targets : List.of());
    if (rows.size() == 0) {
      return new StepResult(0f, 0);
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      return counted(stepOn(rows, sub, alpha, fresh));
    }
  }

  /** Counts a step whose loss was not finite: it made no update, so the weights stay. */
  private StepResult counted(StepResult result) {
    if (!Float.isFinite(result.loss())) {
      skipped++;
      LOG.warn("skipped a step with a non-finite loss ({}); {} so far", result, skipped);
    }
    return result;
  }

  private StepRows arrange(List<Example> fresh, List<Example> replayed, List<float[]> targets) {
    if (!model.hasFrozenFirstLayer()) {
      return StepRows.arrange(fresh, replayed, targets, List.of(), null);
    }
    cache.validFor(model.baseVersion()); // rows computed with another base are gone
    List<float[]> head = prefetcher.rowsFor(fresh);
    return StepRows.arrange(fresh, replayed, targets, head, cache.enabled() ? cache : null);
  }

  /** The model's pass over the rows, with the first-layer rows known before it. */
  private Pass pass(StepRows rows, NDManager sub) {
    NDArray x = batch.inputs(sub, rows.examples);
    int width = model.firstLayerWidth();
    NDArray head = rows.head.isEmpty() ? null : batch.headRows(sub, rows.head, width);
    NDArray tail = rows.tail.isEmpty() ? null : batch.tailRows(sub, rows.tail, width);
    int headRows = model.hasFrozenFirstLayer() ? rows.freshEnd : 0;
    return model.pass(x, headRows, head, tail);
  }

  private StepResult stepOn(StepRows rows, NDManager sub, float alpha, List<Example> fresh) {
    int n = rows.size();
    try (Pass pass = pass(rows, sub)) {
      float[] out = Tensors.floats(pass.logits());
      int classes = out.length / n;
      LossHead.Result lossHead =
          LossHead.evaluate(
              out, classes, rows.labels(), rows.targets, alpha, aceFresh ? rows.freshEnd : 0);
      double loss = lossHead.loss();
      if (Double.isFinite(loss)) {
        loss = update(pass, rows, batch.gradient(sub, lossHead.gradient(), n, classes), loss);
      }
      float[] logits = rows.inGivenOrder(out, classes);
      return new StepResult((float) loss, correct(logits, classes, fresh), logits);
    }
  }

  /** Adds the EWC penalty and, unless anything is not finite, updates the adapter. */
  private double update(Pass pass, StepRows rows, NDArray gradLogits, double loss) {
    float[] grads = pass.backwardVector(gradLogits);
    float[] theta = model.adapterVector();
    if (ewc.penalising()) {
      loss += ewc.addPenalty(theta, grads);
    }
    if (!Vectors.allFinite(grads) || !Double.isFinite(loss)) {
      return Double.NaN; // a non-finite gradient would poison the adapter: skip the step
    }
    cacheFirstLayer(pass, rows);
    adam.step(theta, grads);
    model.setAdapterVector(theta);
    steps++;
    return loss;
  }

  /** Keeps the first-layer output of the replayed rows that had none cached. */
  private void cacheFirstLayer(Pass pass, StepRows rows) {
    if (!cache.enabled() || !model.hasFrozenFirstLayer() || rows.computedEnd == rows.freshEnd) {
      return;
    }
    int width = model.firstLayerWidth();
    float[] computed =
        Tensors.floats(
            pass.frozenFirstLayer()
                .get(new NDIndex().addSliceDim(rows.freshEnd, rows.computedEnd)));
    for (int r = rows.freshEnd; r < rows.computedEnd; r++) {
      int from = (r - rows.freshEnd) * width;
      cache.put(rows.examples.get(r), Arrays.copyOfRange(computed, from, from + width));
    }
  }

  /**
   * Starts computing the frozen first-layer output of {@code upcoming}, the fresh examples of a
   * coming step, on the learner's helper thread (see {@link Prefetcher}). Optional: a step computes
   * whatever is not ready. Only for a base with a frozen first layer (an MLP).
   */
  public void prefetch(List<Example> upcoming) {
    if (model.hasFrozenFirstLayer() && !upcoming.isEmpty()) {
      prefetcher.start(upcoming);
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

  /** The EWC penalty at the current weights (0 before the first consolidation). */
  public float ewcPenalty() {
    return ewc.penalty(model.adapterVector());
  }

  /**
   * Re-estimates the diagonal Fisher from per-sample gradients of {@code recent}, merges it online
   * with the old one ({@code F ← γF + F_new}) and moves the anchors to the current weights.
   */
  public void consolidate(List<Example> recent) {
    float[] estimate = new float[size];
    for (Example example : recent) {
      float[] grads = gradient(example);
      for (int i = 0; i < size; i++) {
        estimate[i] += grads[i] * grads[i] / recent.size();
      }
    }
    ewc.consolidate(estimate, model.adapterVector());
  }

  /** The cross-entropy's gradient with respect to the adapter on one example. */
  private float[] gradient(Example example) {
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager();
        Pass pass = model.pass(batch.inputs(sub, List.of(example)), 0, null, null)) {
      scope.suppressNotUsedWarning();
      float[] out = Tensors.floats(pass.logits());
      LossHead.Result head =
          LossHead.evaluate(out, out.length, new int[] {example.label()}, new float[1][], 0f);
      return pass.backwardVector(batch.gradient(sub, head.gradient(), 1, out.length));
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
      return Tensors.floats(model.forward(batch.inputs(sub, examples)));
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

  /** Fresh rows whose first-layer output a prefetch had ready. */
  long prefetchedRows() {
    return prefetcher.usedRows();
  }

  /** CPU time the prefetch helper has spent computing first layers, in nanoseconds. */
  public long prefetchCpuNanos() {
    return prefetcher.cpuNanos();
  }

  /** Stops the helper thread of {@link #prefetch}, if it was started. */
  @Override
  public void close() {
    prefetcher.close();
  }

  /** Replayed examples whose first-layer output is cached. */
  int cachedRows() {
    return cache.size();
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
    return ewc.consolidated();
  }

  /**
   * Everything a restart needs to continue exactly: adapter, optimizer moments, Fisher and anchors
   * as tensors, and the step counters as metadata.
   */
  public SafeTensors.Contents checkpoint() {
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(model.adapterTensors());
    tensors.putAll(adam.state(shapes));
    ewc.save(tensors, shapes);
    Map<String, String> meta =
        Map.of(STEPS, Long.toString(steps), ADAM_UPDATES, Integer.toString(adam.updates()));
    return new SafeTensors.Contents(tensors, meta);
  }

  /** Continues from what {@link #checkpoint()} returned; call before the first step. */
  public void restore(SafeTensors.Contents state) {
    model.loadAdapter(state.tensors());
    adam.restore(state.tensors(), shapes, Integer.parseInt(state.metadata().get(ADAM_UPDATES)));
    steps = Long.parseLong(state.metadata().get(STEPS));
    ewc.restore(state.tensors(), shapes);
  }
}
