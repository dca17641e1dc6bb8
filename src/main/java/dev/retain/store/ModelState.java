package dev.retain.store;

import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.record.Example;

/**
 * Everything the store keeps for one model: replay reservoir, holdout sets and dedup window, loaded
 * together from the store.
 */
public record ModelState(
    String model, ReplayBuffer replay, HoldoutSets holdout, DedupWindow dedup, Regimes regimes) {

  /** A state whose records without a domain all get {@code defaultDomain}: no regime opened. */
  public ModelState(String model, ReplayBuffer replay, HoldoutSets holdout, DedupWindow dedup) {
    this(model, replay, holdout, dedup, new Regimes(model, "default", 0, "default", holdout));
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
        Regimes.load(store, model, config.getString(RetainConfig.RECORD_DEFAULT_DOMAIN), holdout));
  }

  /**
   * Routes an accepted example as ingest does: into its domain's holdout (every n-th, never trained
   * on) or the replay reservoir; true when it is trainable (the learner gets it).
   */
  public boolean route(Example example, StoreBatch batch) {
    return route(example, HoldoutSets.UNKNOWN, batch) != null;
  }

  /**
   * {@link #route(Example, StoreBatch)} for a record read at {@code position}: the example for the
   * learner (named after the current regime when it came without a domain), or null when it was
   * held out. The learner must get this very object: the reservoir knows its examples by identity.
   */
  public Example route(Example example, long position, StoreBatch batch) {
    Example named;
    synchronized (regimes) { // a regime opened meanwhile would miss an example held out now
      named = regimes.named(example);
      if (holdout.offer(named, position)) {
        return null;
      }
    }
    replay.offer(named, batch);
    return named;
  }

  /** True when the holdouts or regimes changed since the last {@link #flush}. */
  public boolean changed() {
    return holdout.changed() || regimes.changed();
  }

  /** Adds the counters changed since the last flush to {@code batch}; once per batch. */
  public void flush(StoreBatch batch) {
    replay.flush(batch);
    holdout.flush(batch);
    regimes.flush(batch);
    dedup.flush(batch);
  }
}
