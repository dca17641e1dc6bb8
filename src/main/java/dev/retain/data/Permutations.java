package dev.retain.data;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/** Fixed pseudo-random feature permutations per domain; domain 0 is the identity. */
public final class Permutations {
  private static final Map<String, int[]> CACHE = new ConcurrentHashMap<>();

  private Permutations() {}

  /** The permutation of domain {@code domain} for {@code n} features; shared, do not modify. */
  public static int[] of(int n, int domain, long seed) {
    return CACHE.computeIfAbsent(n + "/" + domain + "/" + seed, k -> make(n, domain, seed));
  }

  private static int[] make(int n, int domain, long seed) {
    int[] p = java.util.stream.IntStream.range(0, n).toArray();
    if (domain == 0) {
      return p;
    }
    SplittableRandom random = new SplittableRandom(seed * 31 + domain);
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
