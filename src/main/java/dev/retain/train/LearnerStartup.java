package dev.retain.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.model.LoraNet;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the learner on the training thread: the engine and device, the model with its base
 * (loaded, or pretrained on the first examples), and the learner, resumed from its checkpoint when
 * there is one, with what it had learned recorded in {@link Progress} and the accuracy matrix.
 */
final class LearnerStartup {
  private static final Logger LOG = LoggerFactory.getLogger(LearnerStartup.class);

  /** What the learner starts with: where it stands in the stream, and what it trains. */
  record Started(
      NDManager manager,
      LoraNet model,
      Learner learner,
      String domain,
      Map<TopicPartition, Long> trainedThrough) {}

  private final RetainConfig config;
  private final RetainStore store;
  private final ModelState state;
  private final Progress progress;
  private final AccuracyMatrix matrix;
  private final DriftLog log;

  LearnerStartup(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      Progress progress,
      AccuracyMatrix matrix,
      DriftLog log) {
    this.config = config;
    this.store = store;
    this.state = state;
    this.progress = progress;
    this.matrix = matrix;
    this.log = log;
  }

  Started start(TrainingInput input, AtomicLong awaited, BooleanSupplier closed)
      throws InterruptedException {
    NDManager manager = engine();
    LoraNet model = BaseModels.create(manager, config);
    BaseSetup base = new BaseSetup(config, store, state, awaited, log);
    String domain = null;
    Map<TopicPartition, Long> through = Map.of();
    if (base.load(model)) {
      // a restart (or a base from a file): what the store holds was ingested before this learner
      // started, and will not be handed to it again
      state.replay().markAllLearned();
      state.replay().snapshot().forEach(e -> progress.classes()[e.label()] = true);
    } else {
      List<Example> first = base.pretrain(model, input, closed);
      domain = first.get(first.size() - 1).domain();
      if (state.regimes().isRegime(domain)) {
        domain = state.regimes().current(); // a regime opened while the examples were gathered
      }
      through = input.drainedThrough();
      progress.learnedAll(first);
      matrix.pretrainedOn(first.stream().map(Example::domain).distinct().toList());
      BaseSetup.warnIfPartial(progress);
      state.replay().markLearned(first); // the base has learned them
    }
    Learner learner = learner(model);
    Checkpoints.Restored restored = Checkpoints.load(store, state.model());
    if (restored == null) {
      return new Started(manager, model, learner, domain, through);
    }
    resume(learner, restored);
    Map<Integer, Long> start = new java.util.HashMap<>();
    restored.positions().forEach((tp, offset) -> start.put(tp.partition(), offset));
    state.regimes().reopen(restored.domain(), start); // opened, but not stored before a crash
    return new Started(manager, model, learner, restored.domain(), restored.positions());
  }

  private NDManager engine() {
    int threads = config.getInt(RetainConfig.TRAIN_THREADS);
    Devices.configureThreads(threads);
    Engine.getInstance().setRandomSeed(config.getLong(RetainConfig.TRAIN_SEED).intValue());
    Devices.useThreads(threads); // the engine may have started on another thread; per thread
    NDManager manager =
        Devices.manager(config.choice(RetainConfig.TRAIN_DEVICE, Choice.Device.class));
    LOG.info(
        "training on {} ({}={}), {} intra-op engine threads",
        manager.getDevice(),
        RetainConfig.TRAIN_DEVICE,
        config.getString(RetainConfig.TRAIN_DEVICE),
        Devices.threadsOfThisThread());
    return manager;
  }

  private Learner learner(LoraNet model) {
    return new Learner(
            model,
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getDouble(RetainConfig.TRAIN_LEARNING_RATE).floatValue(),
            config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA).floatValue(),
            config.getDouble(RetainConfig.TRAIN_EWC_GAMMA).floatValue())
        .setAceFresh(
            config.choice(RetainConfig.TRAIN_FRESH_LOSS, Choice.FreshLoss.class)
                == Choice.FreshLoss.ACE);
  }

  /** Continues from a checkpoint: the learner's state, targets, matrix and what was learned. */
  private void resume(Learner learner, Checkpoints.Restored restored) {
    learner.restore(restored.learner());
    state.replay().restoreTargets(restored.targets());
    restored.rows().forEach(row -> matrix.record(row.learned(), row.accuracy()));
    restored.rows().forEach(row -> progress.learnedDomains(row.accuracy().keySet()));
    if (restored.domain() != null) {
      progress.learnedDomains(List.of(restored.domain()));
    }
    LOG.info("resumed the learner at step {} (domain {})", learner.steps(), restored.domain());
  }
}
