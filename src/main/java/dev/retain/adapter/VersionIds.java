package dev.retain.adapter;

import dev.retain.model.Tensors;
import java.util.Map;
import java.util.TreeMap;

/**
 * Version ids: {@code <model>-s<steps>-<hash>}, the hash (12 hex digits of SHA-256) taken over the
 * model id, the training position, the step count, the base's hash and the learner's store
 * identity. The same learner at the same position gives the same id, so a crash between publishing
 * and recording can only publish that same id again; another learner (another store) or another
 * base never gives it, so an id names one content everywhere.
 */
public final class VersionIds {
  private VersionIds() {}

  public static String of(
      String model, Map<String, Long> positions, long steps, String baseHash, String store) {
    String position = new TreeMap<>(positions).toString();
    String hash =
        Tensors.sha256(model + "|" + position + "|" + steps + "|" + baseHash + "|" + store)
            .substring(0, 12);
    return model + "-s" + steps + "-" + hash;
  }
}
