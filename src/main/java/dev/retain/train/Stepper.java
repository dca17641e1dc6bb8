package dev.retain.train;

import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import java.util.List;
import java.util.SplittableRandom;

/**
 * How the learner steps: each batch of new examples joined with a replay sample (and their logit
 * targets), and replay-only steps while the stream is idle. During the first {@code
 * retain.train.new.regime.examples} examples of a domain or regime it has not learned before, it
 * steps {@code retain.train.new.regime.passes} times on each batch, each time with a fresh replay
 * sample, so that a new regime is learned in fewer of its examples; its prequential error is read
 * from the first pass, before it learned them. On the learner's thread.
 */
final class Stepper {
  private final ModelState state;
  private final Learner learner;
  private final TrainMetrics metrics;
  private final SplittableRandom random;
  private final double replayRatio;
  private final float logitReplay;
  private final int batchSize;
  private final int passes;
  private final long boosted;
  private long sinceNew = Long.MAX_VALUE / 2; // examples since a new domain or regime began

  Stepper(RetainConfig config, ModelState state, Learner learner, TrainMetrics metrics) {
    this.state = state;
    this.learner = learner;
    this.metrics = metrics;
    this.random = new SplittableRandom(config.getLong(RetainConfig.TRAIN_SEED));
    this.replayRatio = config.getDouble(RetainConfig.TRAIN_REPLAY_RATIO);
    this.logitReplay = config.getDouble(RetainConfig.TRAIN_LOGIT_REPLAY).floatValue();
    this.batchSize = config.getInt(RetainConfig.TRAIN_BATCH_SIZE);
    this.passes = config.getInt(RetainConfig.TRAIN_NEW_REGIME_PASSES);
    this.boosted = config.getLong(RetainConfig.TRAIN_NEW_REGIME_EXAMPLES);
  }

  /** A domain or regime the learner has not learned before begins with the next batch. */
  void newRegime() {
    sinceNew = 0;
  }

  /**
   * Steps on {@code taken}, as often as a new regime's batches get; the first step's result, whose
   * logits are the prequential predictions.
   */
  Learner.StepResult step(List<Example> taken) {
    Learner.StepResult result = once(taken);
    state.replay().markLearned(taken); // replayable from now on (known by identity, as taken)
    for (int pass = 1; pass < passes && sinceNew < boosted; pass++) {
      once(taken);
    }
    sinceNew += taken.size();
    return result;
  }

  private Learner.StepResult once(List<Example> taken) {
    int replayCount = (int) Math.round(taken.size() * replayRatio);
    long start = System.nanoTime();
    List<Example> replayed = state.replay().sample(replayCount, random);
    Learner.StepResult result = learner.step(taken, replayed, targets(replayed), logitReplay);
    metrics.step(System.nanoTime() - start, result, taken.size(), replayed.size());
    return result;
  }

  /** One replay-only step while the stream is idle. */
  void rehearse() {
    long start = System.nanoTime();
    List<Example> replayed = state.replay().sample(batchSize * 2, random);
    Learner.StepResult result = learner.step(List.of(), replayed, targets(replayed), logitReplay);
    metrics.step(System.nanoTime() - start, result, 0, replayed.size());
  }

  private List<float[]> targets(List<Example> replayed) {
    return logitReplay > 0 ? state.replay().targets(replayed) : List.of();
  }
}
