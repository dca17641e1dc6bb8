package dev.retain.record;

/**
 * The content rules of an example: feature count, finite features, label range. Size and duplicates
 * are checked by the ingest stage, which sees the raw record and the dedup window.
 */
public final class ExampleValidator {
  private final int features;
  private final int classes;

  public ExampleValidator(int features, int classes) {
    if (features < 1 || classes < 2) {
      throw new IllegalArgumentException("features must be >= 1 and classes >= 2");
    }
    this.features = features;
    this.classes = classes;
  }

  /**
   * True when no value is NaN or infinite: a branch-free pass (all exponent bits set means not
   * finite) that the JIT can unroll; the slow loop in {@link #validate} runs only to name the first
   * bad one.
   */
  static boolean allFinite(float[] x) {
    int bad = 0;
    for (float v : x) {
      bad |= ((Float.floatToRawIntBits(v) & 0x7f800000) + 0x00800000) >>> 31;
    }
    return bad == 0;
  }

  /** Throws with the reason when {@code example} breaks a rule; returns normally otherwise. */
  public void validate(Example example) throws InvalidExampleException {
    float[] x = example.features();
    if (x.length != features) {
      throw new InvalidExampleException(
          RejectReason.WRONG_FEATURE_COUNT, "expected " + features + " features, got " + x.length);
    }
    if (!allFinite(x)) {
      for (int i = 0; i < x.length; i++) {
        if (!Float.isFinite(x[i])) {
          throw new InvalidExampleException(
              RejectReason.NON_FINITE_FEATURE, "feature " + i + " is " + x[i]);
        }
      }
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
