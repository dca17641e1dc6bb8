package dev.retain.record;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.retain.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CodecTest {
  private final Example example = TestData.example("ex-1", 2, "week-48", 5);

  @ParameterizedTest
  @ValueSource(strings = {"json", "binary"})
  void shouldRoundTripWhenEncodedThenDecoded(String name) throws Exception {
    ExampleCodec codec = ExampleCodec.named(name);
    assertThat(codec.decode(codec.encode(example), "other")).isEqualTo(example);
  }

  /** Ingest hands codecs views into a Kafka fetch buffer: bytes before and after must not leak. */
  @ParameterizedTest
  @ValueSource(strings = {"json", "binary"})
  void shouldDecodeAViewInsideALargerBufferAndLeaveItsPosition(String name) throws Exception {
    ExampleCodec codec = ExampleCodec.named(name);
    byte[] value = codec.encode(example);
    ByteBuffer fetch = ByteBuffer.allocate(value.length + 20);
    fetch.put(new byte[7]).put(value).put(new byte[13]);
    ByteBuffer view = fetch.position(7).limit(7 + value.length).slice();
    view.position(0);
    ByteBuffer readOnly = fetch.asReadOnlyBuffer().position(7).limit(7 + value.length);

    assertThat(codec.decode(view, "other")).isEqualTo(example);
    assertThat(view.position()).isZero();
    assertThat(codec.decode(readOnly, "other")).isEqualTo(example); // no backing array exposed
    assertThat(readOnly.position()).isEqualTo(7);
  }

  /**
   * A binary example keeps its features as the fetched bytes until they are read as an array; it
   * validates and copies them in place, and reading them once detaches it from those bytes.
   */
  @Test
  void shouldReadFeaturesInPlaceUntilReadAsAnArrayWhenDecodedFromBinary() throws Exception {
    Example source = new Example("ex-2", new float[] {1f, Float.NaN, -3.5f}, 1, "d", 9);
    byte[] value = new BinaryExampleCodec().encode(source);
    ByteBuffer fetch = ByteBuffer.wrap(value);
    Example decoded = new BinaryExampleCodec().decode(fetch, "other");
    int firstFeature = value.length - 3 * Float.BYTES;

    assertThat(decoded.featureCount()).isEqualTo(3);
    assertThat(decoded.firstNonFinite()).isEqualTo(1);
    FloatBuffer copied = FloatBuffer.allocate(4).put(7f);
    decoded.copyFeaturesTo(copied);
    assertThat(copied.array()).containsExactly(7f, 1f, Float.NaN, -3.5f);
    fetch.order(ByteOrder.LITTLE_ENDIAN).putFloat(firstFeature + Float.BYTES, 2f);
    assertThat(decoded.firstNonFinite()).as("still a view of the bytes").isEqualTo(-1);

    float[] read = decoded.features();
    Arrays.fill(value, (byte) 0);
    assertThat(decoded.features()).isSameAs(read).containsExactly(1f, 2f, -3.5f);
    FloatBuffer again = FloatBuffer.allocate(3);
    decoded.copyFeaturesTo(again);
    assertThat(again.array()).containsExactly(read);
  }

  @Test
  void shouldUseDefaultDomainWhenJsonHasNone() throws Exception {
    byte[] json =
        "{\"id\":\"a\",\"features\":[1,2.5],\"label\":1,\"ts\":5}".getBytes(StandardCharsets.UTF_8);
    Example decoded = new JsonExampleCodec().decode(json, "fallback");
    assertThat(decoded.domain()).isEqualTo("fallback");
    assertThat(decoded.features()).containsExactly(1f, 2.5f);
  }

  /** A bare NaN or Infinity is a number that is not finite, not a syntax error. */
  @Test
  void shouldReadBareNanAndInfinityAsNumbersToBeRejectedAsNonFinite() throws Exception {
    byte[] json =
        "{\"id\":\"a\",\"features\":[NaN,Infinity,-Infinity],\"label\":1}"
            .getBytes(StandardCharsets.UTF_8);
    Example decoded = new JsonExampleCodec().decode(json, "d");
    assertThat(decoded.features()[0]).isNaN();
    assertThat(decoded.features()[1]).isInfinite();
    assertThatThrownBy(() -> new ExampleValidator(3, 2).validate(decoded))
        .hasFieldOrPropertyWithValue("reason", RejectReason.NON_FINITE_FEATURE);
  }

  @Test
  void shouldReadNanStringsWhenJsonCarriesThem() throws Exception {
    byte[] json =
        "{\"id\":\"a\",\"features\":[\"NaN\",1],\"label\":1}".getBytes(StandardCharsets.UTF_8);
    assertThat(new JsonExampleCodec().decode(json, "d").features()[0]).isNaN();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "{",
        "[1,2]",
        "{\"id\":\"a\"}",
        "{\"id\":\"a\",\"features\":\"x\",\"label\":1}",
        "{\"id\":\"a\",\"features\":[1],\"label\":1.5}",
        "{\"id\":\"a\",\"features\":[true],\"label\":1}",
        "{\"id\":\"a\",\"features\":[1],\"label\":1} trailing",
        "{\"id\":\"a\",\"features\":[1],\"label\":1}{\"id\":\"b\"}",
        "{\"domain\":{\"id\":\"a\",\"features\":[1],\"label\":1}}",
        "{\"id\":\"a\",\"features\":[1],\"label\":1,\"domain\":[\"d\"]}",
        "{\"id\":7,\"features\":[1],\"label\":1}",
        "{\"id\":\"a\",\"features\":[1],\"label\":1,\"label\":2}",
        "{\"id\":\"a\",\"features\":[1],\"label\":1,\"ts\":\"now\"}"
      })
  void shouldRejectAsUnparsableWhenJsonIsMalformed(String text) {
    assertThatThrownBy(
            () -> new JsonExampleCodec().decode(text.getBytes(StandardCharsets.UTF_8), "d"))
        .isInstanceOfSatisfying(
            InvalidExampleException.class,
            e -> assertThat(e.reason()).isEqualTo(RejectReason.UNPARSABLE));
  }

  @Test
  void shouldRejectAsUnparsableWhenBinaryIsTruncated() {
    byte[] full = new BinaryExampleCodec().encode(example);
    for (int cut : new int[] {0, 1, 5, 20, full.length - 1}) {
      byte[] truncated = Arrays.copyOf(full, cut);
      assertThatThrownBy(() -> new BinaryExampleCodec().decode(truncated, "d"))
          .isInstanceOfSatisfying(
              InvalidExampleException.class,
              e -> assertThat(e.reason()).isEqualTo(RejectReason.UNPARSABLE));
    }
  }

  /** The binary layout is persisted in RocksDB and documented in the README: pin it. */
  @Test
  void shouldMatchGoldenFileWhenEncodingBinary() throws IOException {
    Example golden = new Example("ex-7", new float[] {0f, 1.5f, -2f}, 7, "week-48", 1732300000000L);
    try (InputStream in = getClass().getResourceAsStream("/golden/example-v1.hex")) {
      String hex = new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
      assertThat(HexFormat.of().formatHex(new BinaryExampleCodec().encode(golden))).isEqualTo(hex);
    }
  }
}
