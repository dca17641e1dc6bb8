package dev.retain.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds and reads store keys. A key is a sequence of parts: strings end with a 0 byte, numbers are
 * fixed-width big-endian so that RocksDB's byte order is their numeric order (for non-negative
 * values).
 */
final class Keys {
  private byte[] bytes = new byte[32];
  private int length;

  private Keys() {}

  public static Keys of(String first) {
    return new Keys().str(first);
  }

  public Keys str(String part) {
    byte[] utf8 = part.getBytes(StandardCharsets.UTF_8);
    ensure(utf8.length + 1);
    System.arraycopy(utf8, 0, bytes, length, utf8.length);
    length += utf8.length;
    bytes[length++] = 0;
    return this;
  }

  public Keys i32(int part) {
    ensure(Integer.BYTES);
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes[length++] = (byte) (part >>> shift);
    }
    return this;
  }

  public Keys i64(long part) {
    ensure(Long.BYTES);
    for (int shift = 56; shift >= 0; shift -= 8) {
      bytes[length++] = (byte) (part >>> shift);
    }
    return this;
  }

  private void ensure(int more) {
    if (length + more > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
    }
  }

  public byte[] bytes() {
    return Arrays.copyOf(bytes, length);
  }

  /** Reads parts back from a key, in the order they were written. */
  public static final class Reader {
    private final ByteBuffer in;

    public Reader(byte[] key) {
      in = ByteBuffer.wrap(key);
    }

    public String str() {
      int start = in.position();
      while (in.get() != 0) {
        // scan to the terminator
      }
      return new String(in.array(), start, in.position() - start - 1, StandardCharsets.UTF_8);
    }

    public int i32() {
      return in.getInt();
    }

    public long i64() {
      return in.getLong();
    }
  }

  public static byte[] longValue(long value) {
    return ByteBuffer.allocate(Long.BYTES).putLong(value).array();
  }

  public static long readLong(byte[] value) {
    return ByteBuffer.wrap(value).getLong();
  }
}
