package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.retain.data.DriftStream;
import dev.retain.model.LoraNet;
import dev.retain.record.Example;
import dev.retain.store.ReplayBuffer;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LearnerTest {
  private static final int FEATURES = 32;
  private static final int PER_DOMAIN = 1536;
  private final DriftStream stream = new DriftStream(FEATURES, 4, 1.5f, 5);
  @TempDir Path dir;

  private List<Example> domain(int d, int from, int count) {
    List<Example> out = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      out.add(stream.example(d, i));
    }
    return out;
  }

  @Test
  void shouldStartWithAZeroAdapterAndLearnTheBaseWhenPretrained() {
    Engine.getInstance().setRandomSeed(1);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false)) {
      Learner learner = new Learner(model, FEATURES, 1e-3f, 0f, 1f);
      List<Example> test = domain(0, 0, 200);
      double before = learner.accuracy(test);
      model.adapterParameters().forEach(p -> assertThat(p.getShape().dimension()).isEqualTo(2));
      assertThat(model.adapterParameters().get(1).abs().sum().getFloat()).isZero();
      Pretrainer.train(model, domain(0, 1000, 1000), 2, 32, 1e-2f, 1);
      assertThat(learner.accuracy(test)).isGreaterThan(before).isGreaterThan(0.8);
    }
  }

  /**
   * Pretraining a model in place must leave nothing behind in its adapter: the learner's first
   * steps are the same as on a fresh model that loads the same base.
   */
  @Test
  void shouldLearnTheSameAfterPretrainingInPlaceAsAfterLoadingThatBase() {
    Engine.getInstance().setRandomSeed(4);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet pretrained = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false);
        LoraNet loaded = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false)) {
      Pretrainer.train(pretrained, domain(0, 0, 500), 2, 32, 1e-2f, 1);
      loaded.loadBase(pretrained.baseTensors());
      loaded.loadAdapter(pretrained.adapterTensors()); // the same starting A
      Learner a = new Learner(pretrained, FEATURES, 1e-2f, 0f, 1f);
      Learner b = new Learner(loaded, FEATURES, 1e-2f, 0f, 1f);
      for (int i = 0; i < 3; i++) {
        List<Example> part = domain(1, i * 32, 32);
        assertThat(a.step(part, List.of()).loss()).isEqualTo(b.step(part, List.of()).loss());
      }
      pretrained
          .adapterTensors()
          .forEach(
              (k, t) ->
                  assertThat(t.data()).as(k).isEqualTo(loaded.adapterTensors().get(k).data()));
    }
  }

  @Test
  void shouldContinueExactlyFromACheckpointInAFreshModel() {
    Engine.getInstance().setRandomSeed(3);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet first = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false);
        LoraNet second = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false)) {
      Pretrainer.train(first, domain(0, 0, 500), 1, 32, 1e-2f, 1);
      Learner a = new Learner(first, FEATURES, 1e-2f, 50f, 0.9f);
      for (int i = 0; i < 10; i++) {
        a.step(domain(1, i * 32, 32), domain(0, 600 + i * 32, 32));
      }
      a.consolidate(domain(1, 0, 64));
      a.step(domain(1, 400, 32), List.of());

      second.loadBase(first.baseTensors());
      assertThat(second.baseHash()).isEqualTo(first.baseHash());
      Learner b = new Learner(second, FEATURES, 1e-2f, 50f, 0.9f);
      b.restore(a.checkpoint());
      assertThat(b.steps()).isEqualTo(a.steps());
      assertThat(b.ewcPenalty()).isPositive().isEqualTo(a.ewcPenalty());
      second
          .adapterTensors()
          .forEach((k, t) -> assertThat(t.data()).isEqualTo(first.adapterTensors().get(k).data()));
      List<Example> next = domain(2, 0, 32);
      assertThat(b.step(next, List.of()).loss()).isEqualTo(a.step(next, List.of()).loss());
      second
          .adapterTensors()
          .forEach((k, t) -> assertThat(t.data()).isEqualTo(first.adapterTensors().get(k).data()));
    }
  }

  @Test
  void shouldSkipAStepWhoseLossIsNotFiniteAndKeepTheWeights() {
    Engine.getInstance().setRandomSeed(5);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false)) {
      Learner learner = new Learner(model, FEATURES, 1e-2f, 0f, 1f);
      learner.step(domain(1, 0, 32), List.of());
      var before = model.adapterTensors();
      float[] huge = new float[FEATURES];
      java.util.Arrays.fill(huge, 3e38f); // finite, as validation requires, but the logits overflow
      List<Example> diverging = List.of(new Example("x", huge, 1, "domain-1", 0L));

      assertThat(learner.step(diverging, List.of()).loss()).isNotFinite();
      assertThat(learner.skippedSteps()).isEqualTo(1);
      assertThat(learner.steps()).isEqualTo(1);
      model
          .adapterTensors()
          .forEach((k, t) -> assertThat(t.data()).as(k).isEqualTo(before.get(k).data()));
      // the next good step starts from clean gradients and moves the weights again
      assertThat(learner.step(domain(1, 32, 32), List.of()).loss()).isFinite();
      assertThat(model.adapterTensors().get("base_model.model.layers.0.lora_B.weight").data())
          .isNotEqualTo(before.get("base_model.model.layers.0.lora_B.weight").data());
      model.adapterTensors().values().forEach(t -> assertThat(t.data()).doesNotContain(Float.NaN));

      // a diverged adapter can be reset: loading overwrites NaN rather than scaling it
      var good = model.adapterTensors();
      model.adapterParameters().forEach(p -> p.stopGradient().set(new NDIndex("..."), Float.NaN));
      model.loadAdapter(good);
      model
          .adapterTensors()
          .forEach((k, t) -> assertThat(t.data()).as(k).isEqualTo(good.get(k).data()));
    }
  }

  @Test
  void shouldAddAlphaTimesTheMeanSquaredLogitDifferenceOfTargetedReplayedRows() {
    float[] target = {1f, -2f, 0.5f, 3f};
    float plain = stepFromTheSameStart(List.of(), 0f).loss();
    // 8 fresh rows, then 4 replayed: only replayed rows 0 and 2 have a target
    Learner.StepResult result =
        stepFromTheSameStart(java.util.Arrays.asList(target, null, target, null), 2f);
    float[] logits = result.logits();
    double squared = 0;
    for (int row : new int[] {8, 10}) {
      for (int c = 0; c < 4; c++) {
        double d = logits[row * 4 + c] - target[c];
        squared += d * d;
      }
    }
    assertThat((double) result.loss()).isCloseTo(plain + 2 * squared / 8, within(1e-4));
    assertThat(squared).isPositive();
  }

  /** One step on 8 fresh and 4 replayed examples, from the same seeded, once-trained adapter. */
  private Learner.StepResult stepFromTheSameStart(List<float[]> targets, float alpha) {
    Engine.getInstance().setRandomSeed(11);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false)) {
      Learner learner = new Learner(model, FEATURES, 1e-2f, 0f, 1f);
      learner.step(domain(1, 100, 16), List.of()); // a non-zero adapter
      return learner.step(domain(1, 0, 8), domain(0, 0, 4), targets, alpha);
    }
  }

  /**
   * Replayed examples whose first-layer output is cached take a different path through the model
   * (their rows move to the end of the batch and skip the frozen product): the losses, the returned
   * logits (in the given order, with each row's target) and the adapter must be the same as without
   * the cache.
   */
  @Test
  void shouldLearnTheSameWithTheFirstLayerCachedAsWithout() {
    List<Float> plain = new ArrayList<>();
    List<Float> cached = new ArrayList<>();
    var withoutCache = learnFromAPool(0, false, plain);
    var withCache = learnFromAPool(4096, false, cached);
    assertSame(plain, withoutCache, cached, withCache);
  }

  /**
   * Prefetching the next batch's first layer on the helper thread changes nothing but speed, not
   * even a rounding (the rows keep their order and the new rows' product is its own either way),
   * and the steps do use what it computed.
   */
  @Test
  void shouldLearnExactlyTheSameWithTheNextBatchPrefetchedAsWithout() {
    List<Float> plain = new ArrayList<>();
    List<Float> prefetched = new ArrayList<>();
    var without = learnFromAPool(4096, false, plain);
    var with = learnFromAPool(4096, true, prefetched);
    assertThat(prefetched).containsExactlyElementsOf(plain);
    without.forEach((k, t) -> assertThat(with.get(k).data()).as(k).containsExactly(t.data()));
  }

  private static void assertSame(
      List<Float> expected,
      java.util.Map<String, dev.retain.model.SafeTensors.Tensor> expectedAdapter,
      List<Float> actual,
      java.util.Map<String, dev.retain.model.SafeTensors.Tensor> actualAdapter) {
    assertThat(actual).hasSameSizeAs(expected);
    for (int i = 0; i < expected.size(); i++) {
      assertThat(actual.get(i)).as("value " + i).isCloseTo(expected.get(i), within(1e-4f));
    }
    expectedAdapter.forEach(
        (k, t) -> {
          float[] other = actualAdapter.get(k).data();
          for (int i = 0; i < other.length; i++) {
            assertThat(other[i]).as(k).isCloseTo(t.data()[i], within(1e-5f));
          }
        });
  }

  /**
   * 20 steps of 8 fresh examples and 12 replayed from a pool of 24 (so that the pool's examples
   * come back), half of them with a logit target; records each step's loss and logits into {@code
   * out} and returns the adapter.
   */
  private java.util.Map<String, dev.retain.model.SafeTensors.Tensor> learnFromAPool(
      int cacheRows, boolean prefetch, List<Float> out) {
    Engine.getInstance().setRandomSeed(9);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false);
        Learner learner = new Learner(model, FEATURES, 1e-2f, 0f, 1f, cacheRows)) {
      List<Example> pool = domain(0, 0, 24);
      List<List<Example>> batches = new ArrayList<>();
      for (int step = 0; step < 21; step++) {
        batches.add(domain(1, step * 8, 8));
      }
      SplittableRandom random = new SplittableRandom(3);
      for (int step = 0; step < 20; step++) {
        if (prefetch) {
          learner.prefetch(batches.get(step + 1));
        }
        List<Example> replayed = new ArrayList<>();
        List<float[]> targets = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
          Example e = pool.get(random.nextInt(pool.size()));
          replayed.add(e);
          targets.add(e.label() % 2 == 0 ? new float[] {e.label(), -1f, 0.5f, 2f} : null);
        }
        Learner.StepResult result = learner.step(batches.get(step), replayed, targets, 0.5f);
        out.add(result.loss());
        for (float v : result.logits()) {
          out.add(v);
        }
      }
      assertThat(learner.cachedRows()).isEqualTo(cacheRows == 0 ? 0 : pool.size());
      assertThat(learner.prefetchedRows()).isEqualTo(prefetch ? 19 * 8 : 0);
      assertThat(learner.prefetchCpuNanos() > 0).as("the helper's CPU time").isEqualTo(prefetch);
      return model.adapterTensors();
    }
  }

  /**
   * The EWC penalty's gradient is added by hand: a strong penalty must hold the adapter near its
   * anchors while the same steps without it move away, and the step's loss must include the penalty
   * at the weights it started from.
   */
  @Test
  void shouldHoldTheAdapterNearItsAnchorsWithAStrongEwcPenalty() {
    double free = driftFromAnchors(0f);
    double held = driftFromAnchors(1e4f);
    assertThat(held).isLessThan(free * 0.5);
  }

  /** Squared distance of the adapter from its anchors after 30 steps on a new domain. */
  private double driftFromAnchors(float lambda) {
    Engine.getInstance().setRandomSeed(6);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 16, 4}, 4, 8, false);
        Learner learner = new Learner(model, FEATURES, 1e-2f, lambda, 1f)) {
      for (int i = 0; i < 10; i++) {
        learner.step(domain(0, i * 32, 32), List.of());
      }
      learner.consolidate(domain(0, 400, 200));
      var anchors = model.adapterTensors();
      for (int i = 0; i < 30; i++) {
        List<Example> fresh = domain(1, i * 32, 32);
        float penalty = learner.ewcPenalty();
        float loss = learner.step(fresh, List.of()).loss();
        if (lambda == 0) {
          assertThat(penalty).isZero();
        } else {
          assertThat(loss).as("the loss includes the penalty").isGreaterThanOrEqualTo(penalty);
        }
      }
      double distance = 0;
      for (var e : model.adapterTensors().entrySet()) {
        float[] now = e.getValue().data();
        float[] then = anchors.get(e.getKey()).data();
        for (int i = 0; i < now.length; i++) {
          distance += (now[i] - then[i]) * (double) (now[i] - then[i]);
        }
      }
      return distance;
    }
  }

  /** Replay + EWC must retain earlier domains clearly better than naive LoRA training. */
  @Test
  void shouldRetainEarlierDomainsBetterWithReplayAndEwcThanNaively() {
    double naive = run(false);
    double retained = run(true);
    System.out.printf(
        "retained accuracy on earlier domains: naive %.3f, replay+EWC %.3f%n", naive, retained);
    assertThat(retained)
        .as("replay+EWC %.3f vs naive %.3f", retained, naive)
        .isGreaterThan(naive + 0.10);
  }

  /** Average accuracy on domains 0 and 1 after learning domains 1 and 2 in turn. */
  private double run(boolean replayAndEwc) {
    Engine.getInstance().setRandomSeed(42);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 64, 4}, 8, 16, false);
        RetainStore store = RetainStore.open(dir.resolve(replayAndEwc ? "ewc" : "naive"), false)) {
      List<Example> base = domain(0, 0, PER_DOMAIN);
      Pretrainer.train(model, base, 3, 32, 1e-2f, 7);
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 300, 3);
      offer(replay, store, base);
      Learner learner = new Learner(model, FEATURES, 1e-2f, replayAndEwc ? 200f : 0f, 0.9f);
      SplittableRandom random = new SplittableRandom(9);
      if (replayAndEwc) {
        learner.consolidate(base.subList(0, 200));
      }
      for (int d = 1; d <= 2; d++) {
        List<Example> fresh = domain(d, 0, PER_DOMAIN);
        for (int i = 0; i < fresh.size(); i += 32) {
          List<Example> part = fresh.subList(i, i + 32);
          learner.step(part, replayAndEwc ? replay.sample(32, random) : List.of());
          offer(replay, store, part);
        }
        if (replayAndEwc) {
          learner.consolidate(fresh.subList(0, 200));
        }
      }
      double[] acc = new double[3];
      for (int d = 0; d < 3; d++) {
        acc[d] = learner.accuracy(domain(d, 5000, 500));
      }
      System.out.printf(
          "replay+EWC=%s accuracy per domain %.3f %.3f %.3f%n",
          replayAndEwc, acc[0], acc[1], acc[2]);
      assertThat(acc[2]).as("the newest domain is learned").isGreaterThan(0.6);
      return (acc[0] + acc[1]) / 2;
    }
  }

  private static void offer(ReplayBuffer replay, RetainStore store, List<Example> examples) {
    try (StoreBatch batch = store.newBatch()) {
      examples.forEach(e -> replay.offer(e, batch));
    }
  }
}
