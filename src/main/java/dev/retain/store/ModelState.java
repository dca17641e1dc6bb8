package dev.retain.store;

import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;

/**
 * Everything the store keeps for one model: replay reservoir, holdout sets and dedup window, loaded
 * together from the store.
 */
public record ModelState(
    String model, ReplayBuffer replay, HoldoutSets holdout, DedupWindow dedup, Regimes regimes) {

  /** A state whose records without a domain all get {@code defaultDomain}: no regime opened. */
  public ModelState(String model, ReplayBuffer replay, HoldoutSets holdout, DedupWindow dedup) {
    this(model, replay, holdout, dedup, new Regimes("default", 0));
  }

  private static ReplayBuffer replay(RetainStore store, RetainConfig config, String model) {
    boolean byDomain =
        config.choice(RetainConfig.REPLAY_BALANCE, Choice.ReplayBalance.class)
            == Choice.ReplayBalance.DOMAIN;
    long seed = config.getLong(RetainConfig.TRAIN_SEED) ^ model.hashCode();
    return ReplayBuffer.load(
        store, model, config.getInt(RetainConfig.REPLAY_CAPACITY), seed, byDomain);
  }

  public static ModelState load(RetainStore store, RetainConfig config) {
    String model = config.getString(RetainConfig.MODEL_ID);
    HoldoutSets holdout =
        HoldoutSets.load(
            store,
            model,
            config.getInt(RetainConfig.HOLDOUT_EVERY),
            config.getInt(RetainConfig.HOLDOUT_MAX_PER_DOMAIN));
    return new ModelState(
        model,
        replay(store, config, model),
        holdout,
        DedupWindow.load(store, model, config.getInt(RetainConfig.INGEST_DEDUP_WINDOW)),
        Regimes.of(config.getString(RetainConfig.RECORD_DEFAULT_DOMAIN), holdout.domains()));
  }

  /**
   * Routes an accepted example as ingest does: into its domain's holdout (every n-th, never trained
   * on) or the replay reservoir; true when it is trainable (the learner gets it).
   */
  public boolean route(dev.retain.record.Example example, StoreBatch batch) {
    if (holdout.offer(example, batch)) {
      return false;
    }
    replay.offer(example, batch);
    return true;
  }

  /** Adds the counters changed since the last flush to {@code batch}; once per batch. */
  public void flush(StoreBatch batch) {
    replay.flush(batch);
    holdout.flush(batch);
    dedup.flush(batch);
  }
}
