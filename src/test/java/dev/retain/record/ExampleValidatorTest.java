package dev.retain.record;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
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
    Example good = codec.decode(codec.encode(example(new float[] {1, -0f, -1e6f}, 3)), "d");
    assertThatCode(() -> validator.validate(good)).doesNotThrowAnyException();
  }

  /**
   * Bytes are scanned two floats at a time, through the array of a heap buffer and through the
   * buffer itself otherwise: every position of a bad value is found, in even and odd counts, in a
   * view that starts inside a larger buffer (as a record does inside a fetch).
   */
  @Test
  void shouldFindTheFirstNonFiniteFeatureAtEveryPositionOfHeapAndDirectBytes() {
    float[] bads = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    for (int n : new int[] {1, 2, 7, 8}) {
      for (boolean direct : new boolean[] {false, true}) {
        assertThat(overBytes(new float[n], direct).firstNonFinite()).isEqualTo(-1);
        for (int at = 0; at < n; at++) {
          float[] x = new float[n];
          Arrays.fill(x, -3.4e38f);
          x[at] = bads[at % bads.length];
          if (at + 1 < n) {
            x[n - 1] = Float.NaN; // a later bad value does not hide the first
          }
          assertThat(overBytes(x, direct).firstNonFinite()).as("n=%d at=%d", n, at).isEqualTo(at);
        }
      }
    }
  }

  /**
   * One extreme value (3e38 everywhere spoilt a base for good) is rejected with a reason of its
   * own, on arrays and on bytes; the bound itself is allowed.
   */
  @Test
  void shouldRejectAFeatureBeyondTheBoundAsOutOfRange() throws Exception {
    ExampleValidator bounded = new ExampleValidator(3, 4, 1000f);
    assertThatThrownBy(() -> bounded.validate(example(new float[] {1, -1000.5f, 3}, 0)))
        .hasFieldOrPropertyWithValue("reason", RejectReason.FEATURE_OUT_OF_RANGE)
        .hasMessageContaining("feature 1 is -1000.5");
    assertThatCode(() -> bounded.validate(example(new float[] {1000f, -1000f, 999.9f}, 0)))
        .doesNotThrowAnyException();
    BinaryExampleCodec codec = new BinaryExampleCodec();
    Example extreme =
        codec.decode(codec.encode(example(new float[] {3e38f, 3e38f, 3e38f}, 0)), "d");
    assertThatThrownBy(() -> validator.validate(extreme))
        .hasFieldOrPropertyWithValue("reason", RejectReason.FEATURE_OUT_OF_RANGE);
    for (int n : new int[] {1, 2, 7, 8}) {
      for (boolean direct : new boolean[] {false, true}) {
        for (int at = 0; at < n; at++) {
          float[] x = new float[n];
          Arrays.fill(x, 1023f); // the same exponent as the bound: the slow pass decides
          x[at] = at % 2 == 0 ? 1024.5f : -2e5f;
          assertThat(overBytes(x, direct).firstBeyond(1024f)).as("n=%d at=%d", n, at).isEqualTo(at);
          assertThat(example(x, 0).firstBeyond(1024f)).isEqualTo(at);
        }
        float[] fine = new float[n];
        Arrays.fill(fine, -1024f);
        assertThat(overBytes(fine, direct).firstBeyond(1024f)).isEqualTo(-1);
      }
    }
  }

  /** An example over {@code x}'s little-endian bytes, placed 5 bytes into a larger buffer. */
  private static Example overBytes(float[] x, boolean direct) {
    int size = 5 + x.length * Float.BYTES + 3;
    ByteBuffer all =
        (direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size))
            .order(ByteOrder.LITTLE_ENDIAN);
    all.position(5);
    for (float v : x) {
      all.putFloat(v);
    }
    all.flip().position(5);
    return Example.overBytes("id", all, 0, "d", 0);
  }

  @Test
  void shouldRejectAsOversizedWhenIdOrDomainIsTooLong() {
    String longest = "i".repeat(ExampleValidator.MAX_NAME_CHARS);
    assertThatCode(
            () -> validator.validate(new Example(longest, new float[] {1, 2, 3}, 0, longest, 0)))
        .doesNotThrowAnyException();
    for (Example tooLong :
        List.of(
            new Example(longest + "i", new float[] {1, 2, 3}, 0, "d", 0),
            new Example("id", new float[] {1, 2, 3}, 0, longest + "d", 0))) {
      assertThatThrownBy(() -> validator.validate(tooLong))
          .hasFieldOrPropertyWithValue("reason", RejectReason.OVERSIZED);
    }
  }

  @Test
  void shouldRejectWhenLabelIsOutsideTheClasses() {
    for (int label : new int[] {-1, 4}) {
      assertThatThrownBy(() -> validator.validate(example(new float[] {1, 2, 3}, label)))
          .hasFieldOrPropertyWithValue("reason", RejectReason.LABEL_OUT_OF_RANGE);
    }
  }
}
