package dev.retain.record;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Compact binary form of an {@link Example}, little-endian:
 *
 * <pre>
 * u8  magic 0x52 ('R')      u8  version (1)          u8 flags (bit 0: domain present)
 * i32 label                 i64 ts
 * u16 id length, id UTF-8   [u16 domain length, domain UTF-8]   (domain only when flag bit 0)
 * i32 feature count n       n x f32 features
 * </pre>
 */
public final class BinaryExampleCodec implements ExampleCodec {
  static final byte MAGIC = 0x52;
  static final byte VERSION = 1;
  private static final int FLAG_DOMAIN = 1;

  @Override
  public byte[] encode(Example example, boolean withDomain) {
    byte[] id = example.id().getBytes(StandardCharsets.UTF_8);
    byte[] domain = withDomain ? example.domain().getBytes(StandardCharsets.UTF_8) : null;
    int domainBytes = withDomain ? 2 + domain.length : 0;
    int size = 3 + 4 + 8 + 2 + id.length + domainBytes + 4 + 4 * example.features().length;
    ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put(VERSION).put((byte) (withDomain ? FLAG_DOMAIN : 0));
    out.putInt(example.label()).putLong(example.ts());
    out.putShort((short) id.length).put(id);
    if (withDomain) {
      out.putShort((short) domain.length).put(domain);
    }
    out.putInt(example.features().length);
    // reads the features as an array: an example kept after it is stored (replay, holdout) then
    // lets go of the fetched bytes it was decoded from (see Example)
    out.asFloatBuffer().put(example.features());
    return out.array();
  }

  private static void checkHeader(ByteBuffer in) throws InvalidExampleException {
    if (in.get() != MAGIC || in.get() != VERSION) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "not a Retain binary example");
    }
  }

  private static void checkFeatureCount(ByteBuffer in) throws InvalidExampleException {
    int n = in.getInt();
    if (n < 0 || n * 4L != in.remaining()) {
      throw new InvalidExampleException(
          RejectReason.UNPARSABLE, "feature count " + n + " does not match the record size");
    }
  }

  @Override
  public Example decode(ByteBuffer value, String defaultDomain) throws InvalidExampleException {
    try {
      ByteBuffer in = value.slice().order(ByteOrder.LITTLE_ENDIAN);
      checkHeader(in);
      int flags = in.get();
      int label = in.getInt();
      long ts = in.getLong();
      String id = string(in);
      String domain = (flags & FLAG_DOMAIN) != 0 ? string(in) : defaultDomain;
      checkFeatureCount(in);
      return Example.overBytes(id, in, label, domain, ts); // the features stay in place
    } catch (BufferUnderflowException | IllegalArgumentException e) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "truncated binary example");
    }
  }

  /** A u16-length-prefixed UTF-8 string; decoded in place from a heap buffer's array. */
  private static String string(ByteBuffer in) {
    int length = Short.toUnsignedInt(in.getShort());
    if (in.hasArray()) {
      if (length > in.remaining()) {
        throw new BufferUnderflowException();
      }
      int at = in.position();
      in.position(at + length);
      return new String(in.array(), in.arrayOffset() + at, length, StandardCharsets.UTF_8);
    }
    byte[] bytes = new byte[length];
    in.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
