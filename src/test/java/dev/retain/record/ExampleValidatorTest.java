package dev.retain.record;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ExampleValidatorTest {
  private final ExampleValidator validator = new ExampleValidator(3, 4);

  private static Example example(float[] x, int label) {
    return new Example("id", x, label, "d", 0);
  }

  @Test
  void shouldAcceptWhenExampleIsWellFormed() {
    assertThatCode(() -> validator.validate(example(new float[] {1, 2, 3}, 3)))
        .doesNotThrowAnyException();
  }

  @Test
  void shouldRejectWhenFeatureCountDiffers() {
    assertThatThrownBy(() -> validator.validate(example(new float[] {1, 2}, 0)))
        .hasFieldOrPropertyWithValue("reason", RejectReason.WRONG_FEATURE_COUNT);
  }

  @Test
  void shouldRejectWhenAFeatureIsNanOrInfinite() {
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      assertThatThrownBy(() -> validator.validate(example(new float[] {1, bad, 3}, 0)))
          .hasFieldOrPropertyWithValue("reason", RejectReason.NON_FINITE_FEATURE);
    }
  }

  /** Binary examples are validated on their bytes, without reading them as an array. */
  @Test
  void shouldNameTheFirstBadFeatureWhenValidatingBinaryBytes() throws Exception {
    BinaryExampleCodec codec = new BinaryExampleCodec();
    Example bad = codec.decode(codec.encode(example(new float[] {1, 2, Float.NaN}, 0)), "d");
    assertThatThrownBy(() -> validator.validate(bad))
        .hasFieldOrPropertyWithValue("reason", RejectReason.NON_FINITE_FEATURE)
        .hasMessageContaining("feature 2 is NaN");
    Example tooShort = codec.decode(codec.encode(example(new float[] {1, 2}, 0)), "d");
    assertThatThrownBy(() -> validator.validate(tooShort))
        .hasFieldOrPropertyWithValue("reason", RejectReason.WRONG_FEATURE_COUNT);
    Example good = codec.decode(codec.encode(example(new float[] {1, -0f, 3e38f}, 3)), "d");
    assertThatCode(() -> validator.validate(good)).doesNotThrowAnyException();
  }

  @Test
  void shouldRejectWhenLabelIsOutsideTheClasses() {
    for (int label : new int[] {-1, 4}) {
      assertThatThrownBy(() -> validator.validate(example(new float[] {1, 2, 3}, label)))
          .hasFieldOrPropertyWithValue("reason", RejectReason.LABEL_OUT_OF_RANGE);
    }
  }
}
