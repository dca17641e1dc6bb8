package dev.retain.data;

import dev.retain.record.Example;

/** A labeled stream split into domains: example {@code index} of domain {@code domain}. */
@FunctionalInterface
public interface DomainStream {
  Example example(int domain, long index);

  /**
   * The stream {@code name} names: {@code generated} (a {@link DriftStream} with the given shape, a
   * new feature permutation per domain), {@code generated-class-incremental} (two new classes per
   * domain), {@code fashion-permuted}, {@code fashion-rotated} or {@code fashion-class-incremental}
   * (Fashion-MNIST training images; 784 features, 10 classes), or {@code auto}: Fashion-MNIST
   * permuted when installed, else generated.
   */
  private static DomainStream fashion(String shiftName, int features, int classes, long seed) {
    if (features != FashionMnist.PIXELS || classes != 10) {
      throw new IllegalArgumentException(
          "Fashion-MNIST needs retain.record.features=784 and retain.record.classes=10");
    }
    FashionMnist data = FashionMnist.load(java.nio.file.Path.of(FashionMnist.DEFAULT_DIR), true);
    FashionMnist.Shift shift = FashionMnist.Shift.named(shiftName);
    return (domain, index) -> data.example(shift, domain, (int) (index % data.size()), seed);
  }

  static DomainStream named(String name, int features, int classes, long seed) {
    String chosen = resolve(name);
    return switch (chosen) {
      case "generated" -> new DriftStream(features, classes, 1.0f, seed);
      case "generated-class-incremental" ->
          DriftStream.classIncremental(features, classes, FashionMnist.CLASSES_PER_DOMAIN, seed);
      case "fashion-permuted", "fashion-rotated", "fashion-class-incremental" ->
          fashion(chosen.substring("fashion-".length()), features, classes, seed);
      default -> throw new IllegalArgumentException("unknown data " + name);
    };
  }

  /** The names {@link #named} takes, other than {@code auto}. */
  java.util.List<String> NAMES =
      java.util.List.of(
          "generated",
          "generated-class-incremental",
          "fashion-permuted",
          "fashion-rotated",
          "fashion-class-incremental");

  /**
   * The stream {@code auto} stands for here (Fashion-MNIST permuted when installed); others as is.
   */
  static String resolve(String name) {
    if (!name.equals("auto")) {
      return name;
    }
    boolean fashion = FashionMnist.available(java.nio.file.Path.of(FashionMnist.DEFAULT_DIR));
    return fashion ? "fashion-permuted" : "generated";
  }
}
