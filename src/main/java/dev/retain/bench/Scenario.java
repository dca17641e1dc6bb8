package dev.retain.bench;

import dev.retain.data.DriftStream;
import dev.retain.data.FashionMnist;
import dev.retain.record.Example;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A drift scenario's training examples and held-out test examples per domain: Fashion-MNIST
 * (permuted, rotated or class-incremental) when it is installed, generated data of the same kind
 * otherwise (a rotated stream falls back to permuted generated data, which has no geometry).
 *
 * @param name what the bench prints
 * @param train per domain, the examples to produce, in order
 * @param test per domain, examples never trained on
 */
record Scenario(String name, List<List<Example>> train, List<List<Example>> test) {
  private static final long SEED = 17;

  static Scenario load(
      String kind, int domains, int perDomain, int evalSize, boolean forceGenerated) {
    FashionMnist.Shift shift = FashionMnist.Shift.named(kind);
    int count = Math.min(domains, shift.maxDomains());
    Path dir = Path.of(FashionMnist.DEFAULT_DIR);
    if (!forceGenerated && FashionMnist.available(dir)) {
      FashionMnist trainSplit = FashionMnist.load(dir, true);
      FashionMnist testSplit = FashionMnist.load(dir, false);
      List<List<Example>> train = new ArrayList<>();
      List<List<Example>> test = new ArrayList<>();
      for (int d = 0; d < count; d++) {
        train.add(
            trainSplit.domain(shift, d, 0, Math.min(perDomain, trainSplit.size(shift, d)), SEED));
        test.add(testSplit.domain(shift, d, 0, Math.min(evalSize, testSplit.size(shift, d)), SEED));
      }
      return new Scenario("Fashion-MNIST " + kind, train, test);
    }
    DriftStream stream =
        shift == FashionMnist.Shift.CLASS_INCREMENTAL
            ? DriftStream.classIncremental(
                FashionMnist.PIXELS, FashionMnist.CLASSES, FashionMnist.CLASSES_PER_DOMAIN, SEED)
            : new DriftStream(FashionMnist.PIXELS, FashionMnist.CLASSES, 1.0f, SEED);
    List<List<Example>> train = new ArrayList<>();
    List<List<Example>> test = new ArrayList<>();
    for (int d = 0; d < count; d++) {
      train.add(range(stream, d, 0, perDomain));
      test.add(range(stream, d, 1_000_000, evalSize)); // indices never trained on
    }
    String generatedKind = shift == FashionMnist.Shift.ROTATED ? "permuted" : kind;
    return new Scenario(
        "generated " + generatedKind + " (Fashion-MNIST is not installed)", train, test);
  }

  /** Every domain's training examples, one domain after another. */
  List<Example> sequential() {
    List<Example> out = new ArrayList<>();
    train.forEach(out::addAll);
    return out;
  }

  private static List<Example> range(DriftStream stream, int domain, int from, int count) {
    List<Example> out = new ArrayList<>(count);
    for (int i = from; i < from + count; i++) {
      out.add(stream.example(domain, i));
    }
    return out;
  }
}
