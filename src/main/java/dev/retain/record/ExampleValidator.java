package dev.retain.record;

/**
 * The content rules of an example: feature count, finite and bounded features, label range, length
 * of its id and domain. The record's size and duplicates are checked by the ingest stage, which
 * sees the raw record and the dedup window.
 */
public final class ExampleValidator {
  /**
   * Longest id or domain, in characters. Either is stored with a 16-bit length (the binary form,
   * the dedup window), and this many characters stay under 65,536 bytes in any UTF-8.
   */
  public static final int MAX_NAME_CHARS = 1024;

  /** The default bound on a feature's magnitude ({@code retain.record.max.abs.feature}). */
  public static final float DEFAULT_MAX_ABS_FEATURE = 1e6f;

  private final int features;
  private final int classes;
  private final float maxAbsFeature;

  public ExampleValidator(int features, int classes) {
    this(features, classes, DEFAULT_MAX_ABS_FEATURE);
  }

  /**
   * @param maxAbsFeature the largest magnitude a feature may have: one extreme value can make a
   *     training step overflow and the base or adapter non-finite for good
   */
  public ExampleValidator(int features, int classes, float maxAbsFeature) {
    if (features < 1 || classes < 2 || !(maxAbsFeature > 0)) {
      throw new IllegalArgumentException(
          "features must be >= 1, classes >= 2 and the feature bound > 0");
    }
    this.features = features;
    this.classes = classes;
    this.maxAbsFeature = maxAbsFeature;
  }

  /**
   * Throws with the reason when {@code example} breaks a rule; returns normally otherwise. Reads
   * the features in place: validating does not copy them ({@link Example#firstBeyond}).
   */
  public void validate(Example example) throws InvalidExampleException {
    int count = example.featureCount();
    if (count != features) {
      throw new InvalidExampleException(
          RejectReason.WRONG_FEATURE_COUNT, "expected " + features + " features, got " + count);
    }
    int bad = example.firstBeyond(maxAbsFeature);
    if (bad >= 0) {
      float value = example.features()[bad];
      throw new InvalidExampleException(
          Float.isFinite(value)
              ? RejectReason.FEATURE_OUT_OF_RANGE
              : RejectReason.NON_FINITE_FEATURE,
          "feature "
              + bad
              + " is "
              + value
              + (Float.isFinite(value) ? ", beyond ±" + maxAbsFeature : ""));
    }
    if (example.id().length() > MAX_NAME_CHARS || example.domain().length() > MAX_NAME_CHARS) {
      throw new InvalidExampleException(
          RejectReason.OVERSIZED, "id or domain longer than " + MAX_NAME_CHARS + " characters");
    }
    if (example.label() < 0 || example.label() >= classes) {
      throw new InvalidExampleException(
          RejectReason.LABEL_OUT_OF_RANGE,
          "label " + example.label() + " outside [0, " + classes + ")");
    }
  }

  public int classes() {
    return classes;
  }

  public int features() {
    return features;
  }
}
