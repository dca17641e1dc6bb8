package dev.retain.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.model.Tensors;
import dev.retain.record.Example;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
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
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** First-layer outputs cached by default: twice the default replay buffer. */
  public static final int DEFAULT_CACHED_ROWS = 4096;

  private final LoraNet model;
  private final List<long[]> shapes; // of the adapter's parameters, in the vectors' order
  private final int size; // values in the adapter
  private final HostAdam adam;
  private final Batch batch;
  private final float lambda;
  private final float gamma;

  /** Diagonal Fisher, laid out as the adapter vector; null before the first consolidation. */
  private float[] fisher;

  private float[] anchors; // θ*, laid out the same way
  private final int cacheRows;

  /**
   * The frozen first layer's output {@code x W^T + b} of recently replayed examples by identity,
   * least recently used first.
   */
  private final Map<Held, float[]> frozenRows;

  private long frozenFor = -1; // the base version the cached rows were computed with
  private final Batch helperBatch;
  private ExecutorService helper; // started by the first prefetch
  private Prefetch pending;
  private Map<Held, float[]> prefetched = Map.of(); // fresh examples' first-layer output, ready
  private long prefetchedUsed;
  private final AtomicLong helperNanos = new AtomicLong(); // CPU time of the prefetch helper
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
    this.helperBatch = new Batch(features);
    this.lambda = lambda;
    this.gamma = gamma;
    this.cacheRows = cacheRows;
    this.frozenRows =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<Held, float[]> eldest) {
            return size() > cacheRows;
          }
        };
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
    Rows rows = arrange(fresh, replayed, alpha > 0 ? targets : List.of());
    int n = rows.examples.size();
    if (n == 0) {
      return new StepResult(0f, 0);
    }
    try (NDScope scope = new NDScope();
        NDManager sub = model.manager().newSubManager()) {
      scope.suppressNotUsedWarning();
      NDArray x = batch.inputs(sub, rows.examples);
      int width = model.firstLayerWidth();
      NDArray head = rows.prefetched.isEmpty() ? null : batch.headRows(sub, rows.prefetched, width);
      NDArray tail = rows.cached.isEmpty() ? null : batch.tailRows(sub, rows.cached, width);
      int headRows = model.hasFrozenFirstLayer() ? rows.freshEnd : 0;
      try (LoraNet.Pass pass = model.pass(x, headRows, head, tail)) {
        float[] out = Tensors.floats(pass.logits());
        int classes = out.length / n;
        LossHead.Result lossHead =
            LossHead.evaluate(
                out, classes, rows.labels(), rows.targets, alpha, aceFresh ? rows.freshEnd : 0);
        float[] logits = rows.inGivenOrder(out, classes);
        double loss = lossHead.loss();
        if (Double.isFinite(loss)) {
          float[] grads = pass.backwardVector(batch.gradient(sub, lossHead.gradient(), n, classes));
          float[] theta = model.adapterVector();
          if (fisher != null && lambda > 0) {
            loss += addPenalty(theta, grads);
          }
          if (!Vectors.allFinite(grads)) {
            loss = Double.NaN; // a non-finite gradient would poison the adapter: skip the step
          }
          if (Double.isFinite(loss)) {
            cacheFirstLayer(pass, rows);
            adam.step(theta, grads);
            model.setAdapterVector(theta);
            steps++;
          }
        }
        StepResult result = new StepResult((float) loss, correct(logits, classes, fresh), logits);
        if (!Float.isFinite(result.loss())) {
          // a diverged batch must not poison the adapter: no update, the weights stay
          skipped++;
          LOG.warn("skipped a step with a non-finite loss ({}); {} so far", result, skipped);
        }
        return result;
      }
    }
  }

  /**
   * A step's rows in the order the model sees them: the fresh ones first, then the replayed ones
   * whose first-layer output is computed in the step, then those whose output is cached: their rows
   * form the tail that {@link LoraNet#pass} takes. When a prefetch has the fresh rows' output
   * ready, those rows are its head. The order is the same with a prefetch or without, so that the
   * prefetch changes nothing but which thread computes the fresh rows' product.
   */
  private Rows arrange(List<Example> fresh, List<Example> replayed, List<float[]> targets) {
    boolean frozenLayer = model.hasFrozenFirstLayer();
    if (frozenLayer && frozenFor != model.baseVersion()) {
      frozenRows.clear(); // computed with another base
      frozenFor = model.baseVersion();
    }
    if (frozenLayer && pending != null && pending.covers(fresh)) {
      collectPrefetch();
    }
    Rows rows = new Rows(fresh.size() + replayed.size());
    for (int i = 0; i < fresh.size(); i++) {
      rows.add(fresh.get(i), i, null);
      float[] frozen = frozenLayer ? prefetched.get(new Held(fresh.get(i))) : null;
      if (frozen != null) {
        rows.prefetched.add(frozen);
      }
    }
    if (rows.prefetched.size() < fresh.size()) {
      rows.prefetched.clear(); // a head covers all fresh rows or none; rare: computed in the step
    }
    prefetchedUsed += rows.prefetched.size();
    rows.freshEnd = fresh.size();
    List<Ready> ready = new ArrayList<>();
    for (int j = 0; j < replayed.size(); j++) {
      float[] target = targets.isEmpty() ? null : targets.get(j);
      float[] frozen =
          frozenLayer && cacheRows > 0 ? frozenRows.get(new Held(replayed.get(j))) : null;
      if (frozen != null) {
        ready.add(new Ready(replayed.get(j), fresh.size() + j, target, frozen));
      } else {
        rows.add(replayed.get(j), fresh.size() + j, target);
      }
    }
    rows.computedEnd = rows.examples.size();
    for (Ready r : ready) {
      rows.add(r.example(), r.given(), r.target());
      rows.cached.add(r.frozen());
    }
    return rows;
  }

  /** A row whose first-layer output is known before the step. */
  private record Ready(Example example, int given, float[] target, float[] frozen) {}

  /** Keeps the first-layer output of the replayed rows that had none cached. */
  private void cacheFirstLayer(LoraNet.Pass pass, Rows rows) {
    if (cacheRows == 0 || !model.hasFrozenFirstLayer() || rows.computedEnd == rows.freshEnd) {
      return;
    }
    int width = model.firstLayerWidth();
    float[] computed =
        Tensors.floats(
            pass.frozenFirstLayer()
                .get(new NDIndex().addSliceDim(rows.freshEnd, rows.computedEnd)));
    for (int r = rows.freshEnd; r < rows.computedEnd; r++) {
      int from = (r - rows.freshEnd) * width;
      frozenRows.put(
          new Held(rows.examples.get(r)), Arrays.copyOfRange(computed, from, from + width));
    }
  }

  /**
   * Starts computing the frozen first-layer output of {@code upcoming}, the fresh examples of a
   * coming step, on the learner's helper thread, so that the step finds it ready: a pipeline over a
   * second core, as that product is the largest of a step and needs no adapter. Optional: a step
   * computes whatever is not ready. Only for a base with a frozen first layer (an MLP).
   */
  public void prefetch(List<Example> upcoming) {
    if (!model.hasFrozenFirstLayer() || upcoming.isEmpty()) {
      return;
    }
    collectPrefetch();
    if (helper == null) {
      int threads = Devices.threadsOfThisThread();
      helper =
          Executors.newSingleThreadExecutor(
              task -> {
                Thread thread =
                    new Thread(
                        () -> {
                          Devices.useThreads(threads); // per thread in the engine
                          task.run();
                        },
                        "retain-learner-prefetch");
                thread.setDaemon(true);
                return thread;
              });
    }
    List<Example> examples = List.copyOf(upcoming);
    long version = model.baseVersion();
    pending = new Prefetch(examples, version, helper.submit(() -> computeFrozen(examples)));
  }

  /** On the helper thread: the first layer's output of {@code examples}, row after row. */
  private float[] computeFrozen(List<Example> examples) {
    long start = THREADS.getCurrentThreadCpuTime();
    try (NDManager sub = model.manager().newSubManager()) {
      return Tensors.floats(model.frozenFirstLayer(helperBatch.inputs(sub, examples)));
    } finally {
      helperNanos.addAndGet(THREADS.getCurrentThreadCpuTime() - start);
    }
  }

  /** Waits for the pending prefetch, if any, and makes its rows the ready ones. */
  private void collectPrefetch() {
    Prefetch done = pending;
    if (done == null) {
      return;
    }
    pending = null;
    prefetched = new HashMap<>();
    try {
      float[] out = done.rows().get();
      if (done.baseVersion() != model.baseVersion()) {
        return; // computed with another base
      }
      int width = model.firstLayerWidth();
      for (int i = 0; i < done.examples().size(); i++) {
        prefetched.put(
            new Held(done.examples().get(i)), Arrays.copyOfRange(out, i * width, (i + 1) * width));
      }
    } catch (ExecutionException e) {
      LOG.warn("prefetching the first layer failed; the step computes it", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A prefetch under way: for which examples, with which base, and its result. */
  private record Prefetch(List<Example> examples, long baseVersion, Future<float[]> rows) {
    /** True when it was started for the first of {@code fresh} (the same example object). */
    boolean covers(List<Example> fresh) {
      return !fresh.isEmpty() && examples.stream().anyMatch(e -> e == fresh.get(0));
    }
  }

  /** An example as a key by identity: hashing its features would cost more than it saves. */
  private record Held(Example example) {
    @Override
    public boolean equals(Object other) {
      return other instanceof Held h && h.example == example;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(example);
    }
  }

  /** The rows of one step, in the model's order, and where each came from. */
  private static final class Rows {
    final List<Example> examples;
    final float[][] targets;
    final int[] given; // row -> index in fresh followed by replayed
    final List<float[]> prefetched = new ArrayList<>(); // rows [0, freshEnd), or none
    final List<float[]> cached = new ArrayList<>(); // rows [computedEnd, n)
    int freshEnd; // rows [0, freshEnd): fresh
    int computedEnd; // rows [freshEnd, computedEnd): replayed, first layer computed in the step

    Rows(int n) {
      examples = new ArrayList<>(n);
      targets = new float[n][];
      given = new int[n];
    }

    void add(Example example, int givenIndex, float[] target) {
      given[examples.size()] = givenIndex;
      targets[examples.size()] = target;
      examples.add(example);
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
   * Adds the EWC penalty's gradient {@code λ F (θ − θ*)} to {@code grads} (unless null) and returns
   * the penalty {@code (λ/2) Σ F (θ − θ*)²} at {@code theta}.
   */
  private float addPenalty(float[] theta, float[] grads) {
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

  /** The EWC penalty at the current weights (0 before the first consolidation). */
  public float ewcPenalty() {
    return fisher == null ? 0f : addPenalty(model.adapterVector(), null);
  }

  /**
   * Re-estimates the diagonal Fisher from per-sample gradients of {@code recent}, merges it online
   * with the old one ({@code F ← γF + F_new}) and moves the anchors to the current weights.
   */
  public void consolidate(List<Example> recent) {
    float[] fresh = new float[size];
    for (Example example : recent) {
      try (NDScope scope = new NDScope();
          NDManager sub = model.manager().newSubManager();
          LoraNet.Pass pass = model.pass(batch.inputs(sub, List.of(example)), 0, null, null)) {
        scope.suppressNotUsedWarning();
        float[] out = Tensors.floats(pass.logits());
        LossHead.Result head =
            LossHead.evaluate(out, out.length, new int[] {example.label()}, new float[1][], 0f);
        float[] grads = pass.backwardVector(batch.gradient(sub, head.gradient(), 1, out.length));
        for (int i = 0; i < size; i++) {
          fresh[i] += grads[i] * grads[i] / recent.size();
        }
      }
    }
    if (fisher != null) {
      for (int i = 0; i < size; i++) {
        fresh[i] += gamma * fisher[i];
      }
    }
    fisher = fresh;
    anchors = model.adapterVector();
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
    return prefetchedUsed;
  }

  /** CPU time the prefetch helper has spent computing first layers, in nanoseconds. */
  public long prefetchCpuNanos() {
    return helperNanos.get();
  }

  /** Stops the helper thread of {@link #prefetch}, if it was started. */
  @Override
  public void close() {
    if (helper != null) {
      helper.shutdownNow();
    }
  }

  /** Replayed examples whose first-layer output is cached. */
  int cachedRows() {
    return frozenRows.size();
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
    return fisher != null;
  }

  /**
   * Everything a restart needs to continue exactly: adapter, optimizer moments, Fisher and anchors
   * as tensors, and the step counters as metadata.
   */
  public SafeTensors.Contents checkpoint() {
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(model.adapterTensors());
    tensors.putAll(adam.state(shapes));
    if (fisher != null) {
      tensors.putAll(Vectors.split("ewc.fisher.", fisher, shapes));
      tensors.putAll(Vectors.split("ewc.anchor.", anchors, shapes));
    }
    Map<String, String> meta =
        Map.of("steps", Long.toString(steps), "adam.updates", Integer.toString(adam.updates()));
    return new SafeTensors.Contents(tensors, meta);
  }

  /** Continues from what {@link #checkpoint()} returned; call before the first step. */
  public void restore(SafeTensors.Contents state) {
    model.loadAdapter(state.tensors());
    adam.restore(state.tensors(), shapes, Integer.parseInt(state.metadata().get("adam.updates")));
    steps = Long.parseLong(state.metadata().get("steps"));
    fisher = null;
    anchors = null;
    if (state.tensors().containsKey("ewc.fisher.0")) {
      fisher = new float[size];
      anchors = new float[size];
      Vectors.join(state.tensors(), "ewc.fisher.", shapes, fisher);
      Vectors.join(state.tensors(), "ewc.anchor.", shapes, anchors);
    }
  }
}
