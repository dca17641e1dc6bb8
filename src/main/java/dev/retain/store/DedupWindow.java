package dev.retain.store;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The most recent example ids of one model, for duplicate rejection. Ids are persisted one
 * generation (one group commit) per store value, so a commit costs one put rather than one per
 * record; the oldest generation is dropped once the newer ones alone hold {@code window} ids, so at
 * least the last {@code window} ids are always remembered. In memory each id is a 128-bit
 * fingerprint in a {@link FingerprintSet}, not a string: no object per remembered id. Used by the
 * ingest thread only.
 */
public final class DedupWindow {
  private final String model;
  private final int window;
  private final FingerprintSet prints;
  private final ArrayDeque<Generation> generations = new ArrayDeque<>();

  /** The current generation: its ids written as its value will hold them, after the count. */
  private byte[] currentIds = new byte[1024];

  private int currentBytes;
  private int currentCount;
  private long[] currentPrints = new long[64]; // two longs per id of the current generation
  private long nextSeq;
  private int remembered;

  /** A persisted generation: its sequence number and its ids' fingerprints, two longs each. */
  private record Generation(long seq, long[] prints) {
    int size() {
      return prints.length / 2;
    }
  }

  private DedupWindow(String model, int window) {
    this.model = model;
    this.window = window;
    // starts small and doubles as ids arrive (a few rehashes in all, amortised): a fleet's model
    // that has seen a few hundred examples must not hold a table sized for a full window (4 MB)
    this.prints = new FingerprintSet((int) Math.min(window + 16_384L, 1024));
  }

  public static DedupWindow load(RetainStore store, String model, int window) {
    DedupWindow dedup = new DedupWindow(model, window);
    store.scan(
        Family.DEDUP,
        Keys.of(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          dedup.restore(reader.i64(), decode(value));
        });
    return dedup;
  }

  /** Remembers a stored generation of ids again. */
  private void restore(long seq, List<String> ids) {
    long[] fingerprints = new long[2 * ids.size()];
    for (int i = 0; i < ids.size(); i++) {
      FingerprintSet.fingerprint(ids.get(i), fingerprints, 2 * i);
      prints.add(fingerprints[2 * i], fingerprints[2 * i + 1]);
    }
    generations.addLast(new Generation(seq, fingerprints));
    remembered += ids.size();
    nextSeq = seq + 1;
  }

  /**
   * Remembers {@code id} in the current generation.
   *
   * @return false when {@code id} is already remembered (a duplicate)
   */
  public boolean add(String id) {
    if (window == 0) {
      return true;
    }
    int at = 2 * currentCount;
    if (at + 2 > currentPrints.length) {
      currentPrints = Arrays.copyOf(currentPrints, 2 * currentPrints.length);
    }
    FingerprintSet.fingerprint(id, currentPrints, at);
    if (!prints.add(currentPrints[at], currentPrints[at + 1])) {
      return false;
    }
    append(id);
    currentCount++;
    return true;
  }

  /**
   * Appends {@code id} as {@link DataOutputStream#writeUTF} writes it (u16 length, modified UTF-8),
   * so that the id itself need not be kept until the flush. An id of ASCII characters other than
   * NUL is its own bytes in that form and is copied directly ({@code writeUTF} cost a tenth of the
   * ingest thread's time, README, bench ingest).
   */
  private void append(String id) {
    int n = id.length();
    reserve(Short.BYTES + n);
    // one pass: copy the chars as bytes and note any that is NUL or not ASCII
    int odd = n > 0xffff ? 1 : 0;
    for (int i = 0; i < n; i++) {
      char c = id.charAt(i);
      odd |= (c - 1) >>> 16 | c >>> 7; // c == 0 wraps to 0xffffffff; c > 0x7f has bits above 7
      currentIds[currentBytes + Short.BYTES + i] = (byte) c;
    }
    if (odd == 0) {
      appendLength(n);
    } else {
      appendEncoded(modifiedUtf8(id));
    }
  }

  /** Completes an ASCII id whose bytes are in place: its length before them. */
  private void appendLength(int n) {
    currentIds[currentBytes] = (byte) (n >>> 8);
    currentIds[currentBytes + 1] = (byte) n;
    currentBytes += Short.BYTES + n;
  }

  private void appendEncoded(byte[] encoded) {
    reserve(encoded.length);
    System.arraycopy(encoded, 0, currentIds, currentBytes, encoded.length);
    currentBytes += encoded.length;
  }

  /** Makes room for {@code bytes} more after the current generation's ids. */
  private void reserve(int bytes) {
    if (currentBytes + bytes > currentIds.length) {
      currentIds = Arrays.copyOf(currentIds, Math.max(2 * currentIds.length, currentBytes + bytes));
    }
  }

  /** Writes the current generation and drops expired ones; called once per group commit. */
  /** The stored value of the current generation: an i32 count (big-endian), then the ids. */
  private byte[] currentValue() {
    byte[] value = new byte[Integer.BYTES + currentBytes];
    ByteBuffer.wrap(value).putInt(currentCount); // big-endian, as DataOutputStream writes
    System.arraycopy(currentIds, 0, value, Integer.BYTES, currentBytes);
    return value;
  }

  public void flush(StoreBatch batch) {
    if (currentCount == 0) {
      return;
    }
    int size = currentCount;
    Generation generation = new Generation(nextSeq++, Arrays.copyOf(currentPrints, 2 * size));
    byte[] value = currentValue();
    batch.put(Family.DEDUP, key(generation.seq()), value);
    generations.addLast(generation);
    remembered += size;
    currentCount = 0;
    currentBytes = 0;
    while (remembered - generations.peekFirst().size() >= window) {
      forgetOldest(batch);
    }
  }

  private void forgetOldest(StoreBatch batch) {
    Generation oldest = generations.removeFirst();
    for (int i = 0; i < oldest.size(); i++) {
      prints.remove(oldest.prints()[2 * i], oldest.prints()[2 * i + 1]);
    }
    remembered -= oldest.size();
    batch.delete(Family.DEDUP, key(oldest.seq()));
  }

  /** Ids remembered, pending ones included. */
  public int size() {
    return prints.size();
  }

  private byte[] key(long seq) {
    return Keys.of(model).i64(seq).bytes();
  }

  private static byte[] modifiedUtf8(String id) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(Short.BYTES + 3 * id.length());
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeUTF(id);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static List<String> decode(byte[] value) {
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(value))) {
      int n = in.readInt();
      List<String> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        out.add(in.readUTF());
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt dedup entry", e);
    }
  }
}
