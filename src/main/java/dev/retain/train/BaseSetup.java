package dev.retain.train;

import dev.retain.config.RetainConfig;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the learner's model its frozen base: from {@code retain.model.base.path}, from the store (a
 * restart), or, at a first start without either, pretrained on the first trainable examples and
 * kept in the store. A base that is not finite is refused, wherever it comes from.
 */
final class BaseSetup {
  private static final Logger LOG = LoggerFactory.getLogger(BaseSetup.class);
  private static final long REPORT_NANOS = 10_000_000_000L;
  private final RetainConfig config;
  private final RetainStore store;
  private final ModelState state;
  private final AtomicLong awaited; // examples pretraining still needs: a gauge reads it
  private final PretrainWatch watch;

  BaseSetup(
      RetainConfig config, RetainStore store, ModelState state, AtomicLong awaited, DriftLog log) {
    this.config = config;
    this.store = store;
    this.state = state;
    this.awaited = awaited;
    this.watch = new PretrainWatch(config, state, log);
  }

  /** Loads the base from the file or the store into {@code model}; false when there is none. */
  boolean load(LoraNet model) {
    String path = config.basePath(state.model());
    SafeTensors.Contents base =
        path.isBlank() ? BaseModels.load(store, state.model()) : BaseModels.readFile(Path.of(path));
    if (base == null) {
      return false;
    }
    refuseNonFinite(base.tensors(), "the base from " + (path.isBlank() ? "the store" : path));
    model.loadBase(base.tensors());
    LOG.info(
        "loaded base {} ({})", model.baseHash().substring(0, 12), path.isBlank() ? "store" : path);
    return true;
  }

  /**
   * Waits for the first {@code retain.model.pretrain.examples} trainable examples (saying so in the
   * log and on the gauge; a drift among them opens a regime, {@link PretrainWatch}), pretrains
   * {@code model}'s base on them and keeps it in the store; returns those examples.
   */
  List<Example> pretrain(LoraNet model, TrainingInput inbox, BooleanSupplier closed)
      throws InterruptedException {
    List<Example> first = await(inbox, closed);
    LOG.info("pretraining the base on the first {} examples", first.size());
    int epochs = config.getInt(RetainConfig.MODEL_PRETRAIN_EPOCHS);
    int batchSize = config.getInt(RetainConfig.TRAIN_BATCH_SIZE);
    Pretrainer.train(
        model, first, epochs, batchSize, 1e-3f, config.getLong(RetainConfig.TRAIN_SEED));
    refuseNonFinite(model.baseTensors(), "the pretrained base (not stored)");
    try (StoreBatch batch = store.newBatch()) {
      BaseModels.save(batch, state.model(), model);
      store.commit(batch);
    }
    return first;
  }

  private List<Example> await(TrainingInput inbox, BooleanSupplier closed)
      throws InterruptedException {
    int wanted = config.getInt(RetainConfig.MODEL_PRETRAIN_EXAMPLES);
    long idleMs = config.getLong(RetainConfig.TRAIN_IDLE_MS);
    List<Example> first = new ArrayList<>(wanted);
    LOG.info(
        "no base ({} is empty and the store holds none): waiting for the first {} trainable"
            + " examples to pretrain one",
        RetainConfig.MODEL_BASE_PATH,
        wanted);
    long lastReport = System.nanoTime();
    awaited.set(wanted);
    int chunk = config.getInt(RetainConfig.TRAIN_BATCH_SIZE);
    while (first.size() < wanted && !closed.getAsBoolean()) {
      List<Example> drained = inbox.drain(Math.min(chunk, wanted - first.size()), idleMs);
      first.addAll(drained);
      watch.drifted(drained, inbox); // opens a regime there; the base still takes them all
      awaited.set(wanted - first.size());
      if (System.nanoTime() - lastReport > REPORT_NANOS && first.size() < wanted) {
        LOG.info(
            "still waiting to pretrain the base: {} of {} trainable examples so far",
            first.size(),
            wanted);
        lastReport = System.nanoTime();
      }
    }
    if (closed.getAsBoolean()) {
      throw new InterruptedException("closed before the base was pretrained");
    }
    return first;
  }

  /** Warns when the base was pretrained on only some of the classes. */
  static void warnIfPartial(Progress progress) {
    int all = progress.classes().length;
    if (progress.classesLearned() < all) {
      LOG.warn(
          "the base was pretrained on {} of {} classes: the others are learned by the adapter"
              + " alone (a class-incremental stream); a base that has seen them all ({})"
              + " usually serves them better",
          progress.classesLearned(),
          all,
          RetainConfig.MODEL_BASE_PATH);
    }
  }

  private static void refuseNonFinite(
      java.util.Map<String, SafeTensors.Tensor> tensors, String what) {
    String nonFinite = SafeTensors.firstNonFinite(tensors);
    if (nonFinite != null) {
      throw new IllegalStateException(
          what
              + " is not finite (tensor "
              + nonFinite
              + "): refusing to train or serve on it. Check the examples' feature scale ("
              + RetainConfig.RECORD_MAX_ABS_FEATURE
              + ")");
    }
  }
}
