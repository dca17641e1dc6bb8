package dev.retain.record;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One labeled example: a producer-chosen unique {@code id} (used for de-duplication), a feature
 * vector, a class {@code label}, the data {@code domain} (regime) it belongs to, never null, and
 * the producer's timestamp {@code ts} in epoch milliseconds. Immutable; safe to share between
 * threads.
 *
 * <p>An example decoded from the binary form keeps its features as the record's bytes (a view into
 * the fetched Kafka data, no copy) until something reads them as an array ({@link #features()}):
 * ingest validates, routes and stores examples without copying their features, and the learner
 * copies them straight from those bytes into its batch ({@link #copyFeaturesTo}). Reading them once
 * as an array keeps the array and lets the bytes go, so examples held for long (replay, holdout) do
 * not pin fetched data: storing an example reads its features.
 */
public final class Example {
  private final String id;
  private final int label;
  private final String domain;
  private final long ts;
  private final int featureCount;

  /** The features, once read as an array; null while only {@link #raw} holds them. */
  private volatile float[] features;

  /** Little-endian f32 features, position 0, until {@link #features} is set; guarded by this. */
  private ByteBuffer raw;

  /**
   * An example over {@code features}, which it owns once constructed: callers must not change the
   * array afterwards.
   */
  public Example(String id, float[] features, int label, String domain, long ts) {
    this(id, Objects.requireNonNull(features, "features"), null, label, domain, ts);
  }

  private Example(String id, float[] features, ByteBuffer raw, int label, String domain, long ts) {
    this.id = Objects.requireNonNull(id, "id");
    this.domain = Objects.requireNonNull(domain, "domain");
    this.label = label;
    this.ts = ts;
    this.features = features;
    this.raw = raw;
    this.featureCount = features != null ? features.length : raw.remaining() / Float.BYTES;
  }

  /**
   * An example whose features stay in {@code littleEndianFloats} (its remaining bytes, a whole
   * number of floats) until first read as an array. The buffer's content must not change
   * afterwards; the example keeps its own view of it.
   */
  public static Example overBytes(
      String id, ByteBuffer littleEndianFloats, int label, String domain, long ts) {
    if (littleEndianFloats.remaining() % Float.BYTES != 0) {
      throw new IllegalArgumentException(
          littleEndianFloats.remaining() + " bytes is not a whole number of floats");
    }
    ByteBuffer view = littleEndianFloats.slice().order(ByteOrder.LITTLE_ENDIAN);
    return new Example(id, null, view, label, domain, ts);
  }

  public String id() {
    return id;
  }

  public int label() {
    return label;
  }

  public String domain() {
    return domain;
  }

  public long ts() {
    return ts;
  }

  /** How many features the example has, without reading them. */
  public int featureCount() {
    return featureCount;
  }

  /** The feature vector; callers must not change it. The first call may copy it from the bytes. */
  public float[] features() {
    float[] out = features;
    if (out != null) {
      return out;
    }
    synchronized (this) {
      if (features == null) {
        float[] read = new float[featureCount];
        raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(read);
        features = read;
        raw = null; // the bytes may be a view into a large fetched buffer: let it go
      }
      return features;
    }
  }

  /** True while the features are still the bytes the example was decoded from (see the class). */
  public boolean viewsBytes() {
    synchronized (this) {
      return raw != null;
    }
  }

  /** Appends the features to {@code out}, from the bytes when they were never read as an array. */
  public void copyFeaturesTo(FloatBuffer out) {
    ByteBuffer bytes;
    synchronized (this) {
      bytes = raw;
    }
    if (bytes == null) {
      out.put(features());
    } else {
      // one bulk copy when out is little-endian too, as a native buffer is on x86 and ARM
      out.put(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
    }
  }

  /**
   * The index of the first NaN or infinite feature, or -1 when every feature is finite; reads the
   * bytes in place when the features were never read as an array.
   */
  public int firstNonFinite() {
    ByteBuffer bytes;
    synchronized (this) {
      bytes = raw;
    }
    return bytes == null ? firstNonFinite(features()) : firstNonFinite(bytes);
  }

  /**
   * A branch-free pass (all exponent bits set means not finite) that the JIT can unroll; the slow
   * loop runs only to find the first bad value.
   */
  private static int firstNonFinite(float[] x) {
    int bad = 0;
    for (float v : x) {
      bad |= nonFinite(Float.floatToRawIntBits(v));
    }
    if (bad == 0) {
      return -1;
    }
    for (int i = 0; i < x.length; i++) {
      if (!Float.isFinite(x[i])) {
        return i;
      }
    }
    return -1;
  }

  /** Reads a byte array's bytes eight at a time, little-endian, without a buffer's checks. */
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /**
   * Reads two floats per step as one long: the JIT does not vectorise this pass, so halving the
   * steps is what counts; the sum of the masked halves cannot carry from the low float into the
   * high one. A heap buffer (what Kafka's fetches are) is read through its array: a buffer's own
   * {@code getLong} cost three times as much per record (README, bench ingest).
   */
  private static int firstNonFinite(ByteBuffer littleEndian) {
    int n = littleEndian.remaining() / Float.BYTES;
    long bad = 0;
    if (littleEndian.hasArray()) {
      byte[] array = littleEndian.array();
      int start = littleEndian.arrayOffset() + littleEndian.position();
      int end = start + (n - 1) * Float.BYTES;
      for (int i = start; i < end; i += 2 * Float.BYTES) {
        bad |= ((long) LONGS.get(array, i) & 0x7f8000007f800000L) + 0x0080000000800000L;
      }
    } else {
      for (int i = 0; i + 1 < n; i += 2) {
        bad |= (littleEndian.getLong(i * Float.BYTES) & 0x7f8000007f800000L) + 0x0080000000800000L;
      }
    }
    bad &= 0x8000000080000000L;
    if (n % 2 == 1) {
      bad |= nonFinite(littleEndian.getInt((n - 1) * Float.BYTES));
    }
    if (bad == 0) {
      return -1;
    }
    for (int i = 0; i < n; i++) {
      if (nonFinite(littleEndian.getInt(i * Float.BYTES)) != 0) {
        return i;
      }
    }
    return -1;
  }

  /** 1 when a float with these bits is NaN or infinite (its exponent bits all set), else 0. */
  private static int nonFinite(int bits) {
    return ((bits & 0x7f800000) + 0x00800000) >>> 31;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Example e
        && id.equals(e.id)
        && label == e.label
        && ts == e.ts
        && domain.equals(e.domain)
        && Arrays.equals(features(), e.features());
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, label, domain, ts) * 31 + Arrays.hashCode(features());
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
        + featureCount
        + "]";
  }
}
