package dev.retain.data;

import dev.retain.record.Example;
import java.util.SplittableRandom;

/**
 * A generated drift problem for demos and tests: each class has a fixed random prototype, an
 * example is its prototype plus Gaussian noise, and each domain applies its own fixed permutation
 * of the features (domain 0 is the identity), so a model that learns a new domain naively forgets
 * the old ones. Deterministic for a given seed.
 */
public final class DriftStream implements DomainStream {
  private final int features;
  private final int classes;
  private final float noise;
  private final float[][] prototypes;
  private final long seed;
  private final int classesPerDomain; // 0: every class in every domain, permuted features

  public DriftStream(int features, int classes, float noise, long seed) {
    this(features, classes, noise, seed, 0);
  }

  /**
   * A class-incremental stream: domain d holds classes {@code d*k .. d*k+k-1} (k = {@code
   * classesPerDomain}), modulo {@code classes}, with unpermuted features.
   */
  public static DriftStream classIncremental(
      int features, int classes, int classesPerDomain, long seed) {
    if (classesPerDomain < 1 || classesPerDomain > classes) {
      throw new IllegalArgumentException(
          "classes per domain must be 1.." + classes + ", was " + classesPerDomain);
    }
    return new DriftStream(features, classes, 1.0f, seed, classesPerDomain);
  }

  private DriftStream(int features, int classes, float noise, long seed, int classesPerDomain) {
    this.classesPerDomain = classesPerDomain;
    this.features = features;
    this.classes = classes;
    this.noise = noise;
    this.seed = seed;
    SplittableRandom random = new SplittableRandom(seed);
    prototypes = new float[classes][features];
    for (float[] prototype : prototypes) {
      for (int i = 0; i < features; i++) {
        prototype[i] = (float) gaussian(random);
      }
    }
  }

  /**
   * Example number {@code index} of domain {@code domain}; the same arguments give the same one.
   */
  @Override
  public Example example(int domain, long index) {
    SplittableRandom random = new SplittableRandom(seed ^ (domain * 0x9E3779B97F4A7C15L) ^ index);
    int label =
        classesPerDomain == 0
            ? random.nextInt(classes)
            : (domain * classesPerDomain + random.nextInt(classesPerDomain)) % classes;
    float[] x = new float[features];
    int[] permutation = Permutations.of(features, classesPerDomain == 0 ? domain : 0, seed);
    for (int i = 0; i < features; i++) {
      x[permutation[i]] = prototypes[label][i] + noise * (float) gaussian(random);
    }
    return new Example(
        "d" + domain + "-" + index, x, label, "domain-" + domain, System.currentTimeMillis());
  }

  public int features() {
    return features;
  }

  public int classes() {
    return classes;
  }

  static double gaussian(SplittableRandom random) {
    double u = 1.0 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2.0 * Math.PI * v);
  }
}
