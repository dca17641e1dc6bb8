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

  /**
   * The step count a version id names ({@code <model>-s<steps>-<hash>}), or -1 when it names none.
   */
  public static long steps(String id) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("-s(\\d+)-[0-9a-f]+$").matcher(id);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }
}
