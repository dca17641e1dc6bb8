package dev.retain.record;

import java.util.Arrays;
import java.util.Objects;

/**
 * One labeled example. {@code features} is owned by the example once constructed: callers must not
 * change the array afterwards.
 *
 * @param id producer-chosen unique id (used for de-duplication)
 * @param features feature vector
 * @param label class index
 * @param domain data domain (regime) the example belongs to; never null
 * @param ts producer timestamp, epoch milliseconds
 */
public record Example(String id, float[] features, int label, String domain, long ts) {
  public Example {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(domain, "domain");
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Example e
        && id.equals(e.id)
        && label == e.label
        && ts == e.ts
        && domain.equals(e.domain)
        && Arrays.equals(features, e.features);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, label, domain, ts) * 31 + Arrays.hashCode(features);
  }

  @Override
  public String toString() {
    return "Example[id="
        + id
        + ", label="
        + label
        + ", domain="
        + domain
        + ", features="
        + features.length
        + "]";
  }
}
