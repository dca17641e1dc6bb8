package dev.retain.train;

import dev.retain.record.Example;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The frozen first layer's output {@code x W^T + b} of recently replayed examples, by identity,
 * least recently used first; valid for one version of the base, cleared when it changes.
 */
final class FirstLayerCache {
  private final int capacity;
  private final Map<ExampleKey, float[]> rows;
  private long baseVersion = -1; // the base version the rows were computed with

  FirstLayerCache(int capacity) {
    this.capacity = capacity;
    this.rows =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<ExampleKey, float[]> eldest) {
            return size() > capacity;
          }
        };
  }

  /** Forgets every row when the base is no longer the one they were computed with. */
  void validFor(long version) {
    if (version != baseVersion) {
      rows.clear();
      baseVersion = version;
    }
  }

  boolean enabled() {
    return capacity > 0;
  }

  /** The cached row of {@code example}, or null. */
  float[] get(Example example) {
    return capacity > 0 ? rows.get(new ExampleKey(example)) : null;
  }

  void put(Example example, float[] row) {
    rows.put(new ExampleKey(example), row);
  }

  int size() {
    return rows.size();
  }
}
