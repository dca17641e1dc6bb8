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

  /**
   * This example under another domain, sharing its features (the learner names a record that came
   * without a domain after the regime it was trained in).
   */
  public Example inDomain(String other) {
    if (other.equals(domain)) {
      return this;
    }
    ByteBuffer bytes;
    synchronized (this) {
      bytes = raw;
    }
    return bytes == null
        ? new Example(id, features(), null, label, other, ts)
        : new Example(id, null, bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), label, other, ts);
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
    return firstBeyond(Float.POSITIVE_INFINITY);
  }

  /**
   * The index of the first feature that is NaN, infinite or larger than {@code maxAbs} in
   * magnitude, or -1 when there is none; reads the bytes in place when the features were never read
   * as an array.
   */
  public int firstBeyond(float maxAbs) {
    if (!(maxAbs > 0)) {
      throw new IllegalArgumentException("maxAbs must be > 0, was " + maxAbs);
    }
    ByteBuffer bytes;
    synchronized (this) {
      bytes = raw;
    }
    // a fast pass flags every value whose exponent reaches maxAbs's (a superset); only then does
    // a slow pass look for the first value really beyond it
    int exponent = Float.isInfinite(maxAbs) ? 255 : Math.getExponent(maxAbs) + 127;
    return bytes == null
        ? firstBeyond(features(), maxAbs, exponent)
        : firstBeyond(bytes, maxAbs, exponent);
  }

  private static boolean beyond(float v, float maxAbs) {
    return !Float.isFinite(v) || Math.abs(v) > maxAbs;
  }

  /**
   * A branch-free pass that the JIT can unroll; the slow loop runs only to find the first bad
   * value.
   */
  private static int firstBeyond(float[] x, float maxAbs, int exponent) {
    int bad = 0;
    for (float v : x) {
      bad |= reaches(Float.floatToRawIntBits(v), exponent);
    }
    if (bad == 0) {
      return -1;
    }
    for (int i = 0; i < x.length; i++) {
      if (beyond(x[i], maxAbs)) {
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
   * steps is what counts. Each half's masked exponent plus {@code 2^31 - exponent·2^23} sets that
   * half's top bit exactly when the exponent reaches {@code exponent}, and never carries into the
   * other half. A heap buffer (what Kafka's fetches are) is read through its array: a buffer's own
   * {@code getLong} cost three times as much per record (README, bench ingest).
   */
  private static int firstBeyond(ByteBuffer littleEndian, float maxAbs, int exponent) {
    int n = littleEndian.remaining() / Float.BYTES;
    long half = 0x80000000L - ((long) exponent << 23);
    long add = (half << 32) | half;
    long bad = 0;
    if (littleEndian.hasArray()) {
      byte[] array = littleEndian.array();
      int start = littleEndian.arrayOffset() + littleEndian.position();
      int end = start + (n - 1) * Float.BYTES;
      for (int i = start; i < end; i += 2 * Float.BYTES) {
        bad |= ((long) LONGS.get(array, i) & 0x7f8000007f800000L) + add;
      }
    } else {
      for (int i = 0; i + 1 < n; i += 2) {
        bad |= (littleEndian.getLong(i * Float.BYTES) & 0x7f8000007f800000L) + add;
      }
    }
    bad &= 0x8000000080000000L;
    if (n % 2 == 1) {
      bad |= reaches(littleEndian.getInt((n - 1) * Float.BYTES), exponent);
    }
    if (bad == 0) {
      return -1;
    }
    for (int i = 0; i < n; i++) {
      if (beyond(Float.intBitsToFloat(littleEndian.getInt(i * Float.BYTES)), maxAbs)) {
        return i;
      }
    }
    return -1;
  }

  /** 1 when a float with these bits has a biased exponent of at least {@code exponent}, else 0. */
  private static int reaches(int bits, int exponent) {
    return (int) (((bits & 0x7f800000L) + 0x80000000L - ((long) exponent << 23)) >>> 31) & 1;
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
