package dev.retain.cli;

import dev.retain.config.RetainConfig;
import dev.retain.store.DedupWindow;
import dev.retain.store.HoldoutSets;
import dev.retain.store.Offsets;
import dev.retain.store.ReplayBuffer;
import dev.retain.store.RetainStore;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Prints what the store holds; safe while the service runs (read-only open). */
@Command(name = "inspect", description = "Show the store: counts, replay, holdout, positions.")
final class InspectCommand implements Runnable {
  @Mixin ConfigOptions options;

  @Override
  public void run() {
    RetainConfig config = options.load();
    String model = config.getString(RetainConfig.MODEL_ID);
    try (RetainStore store =
        RetainStore.openReadOnly(Path.of(config.getString(RetainConfig.STORE_DIR)))) {
      ReplayBuffer replay =
          ReplayBuffer.load(store, model, config.getInt(RetainConfig.REPLAY_CAPACITY), 0);
      HoldoutSets holdout =
          HoldoutSets.load(
              store,
              model,
              config.getInt(RetainConfig.HOLDOUT_EVERY),
              config.getInt(RetainConfig.HOLDOUT_MAX_PER_DOMAIN));
      int dedup =
          DedupWindow.load(store, model, config.getInt(RetainConfig.INGEST_DEDUP_WINDOW)).size();
      System.out.printf("model %s, store %s%n", model, store.dir());
      System.out.printf("replay: %d of %d slots%n", replay.size(), replay.capacity());
      System.out.printf("%-8s %10s %8s%n", "class", "seen", "slots");
      replay
          .seenByClass()
          .forEach(
              (c, seen) ->
                  System.out.printf("%-8d %10d %8d%n", c, seen, replay.sizeByClass().get(c)));
      System.out.printf("%-16s %10s %8s%n", "domain", "seen", "holdout");
      holdout
          .seenByDomain()
          .forEach(
              (d, seen) ->
                  System.out.printf("%-16s %10d %8d%n", d, seen, holdout.sizeByDomain().get(d)));
      System.out.printf("dedup window: %d ids%n", dedup);
      Offsets.read(store, config.getString(RetainConfig.INGEST_GROUP_ID))
          .forEach((tp, offset) -> System.out.printf("position %s: %d%n", tp, offset));
    }
  }
}
