package dev.retain.store;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The most recent example ids of one model, for duplicate rejection. Ids are persisted one
 * generation (one group commit) per store value, so a commit costs one put rather than one per
 * record; the oldest generation is dropped once the newer ones alone hold {@code window} ids, so at
 * least the last {@code window} ids are always remembered. Used by the ingest thread only.
 */
public final class DedupWindow {
  private final String model;
  private final int window;
  private final Set<String> ids;
  private final ArrayDeque<Generation> generations = new ArrayDeque<>();
  private List<String> current = new ArrayList<>();
  private long nextSeq;
  private int remembered;

  private record Generation(long seq, List<String> ids) {}

  private DedupWindow(String model, int window) {
    this.model = model;
    this.window = window;
    // sized for a full window and a generation beyond it, so that it never rehashes while the
    // ingest thread fills it
    this.ids = new HashSet<>((int) Math.min((window + 16_384L) * 4 / 3, 1 << 24));
  }

  public static DedupWindow load(RetainStore store, String model, int window) {
    DedupWindow dedup = new DedupWindow(model, window);
    store.scan(
        Family.DEDUP,
        Keys.of(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          long seq = reader.i64();
          List<String> ids = decode(value);
          dedup.generations.addLast(new Generation(seq, ids));
          dedup.ids.addAll(ids);
          dedup.remembered += ids.size();
          dedup.nextSeq = seq + 1;
        });
    return dedup;
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
    if (!ids.add(id)) {
      return false;
    }
    current.add(id);
    return true;
  }

  /** Writes the current generation and drops expired ones; called once per group commit. */
  public void flush(StoreBatch batch) {
    if (current.isEmpty()) {
      return;
    }
    Generation generation = new Generation(nextSeq++, current);
    batch.put(Family.DEDUP, key(generation.seq()), encode(current));
    generations.addLast(generation);
    remembered += current.size();
    current = new ArrayList<>();
    while (remembered - generations.peekFirst().ids().size() >= window) {
      Generation oldest = generations.removeFirst();
      ids.removeAll(oldest.ids());
      remembered -= oldest.ids().size();
      batch.delete(Family.DEDUP, key(oldest.seq()));
    }
  }

  /** Ids remembered, pending ones included. */
  public int size() {
    return ids.size();
  }

  private byte[] key(long seq) {
    return Keys.of(model).i64(seq).bytes();
  }

  /**
   * The generation's value: an i32 count, then each id as {@link DataOutputStream#writeUTF} writes
   * it (u16 length, modified UTF-8). An id of ASCII characters other than NUL is its own bytes in
   * that form, so such generations (the usual ones) are written directly: {@code writeUTF} cost a
   * tenth of the ingest thread's time (README, bench ingest).
   */
  private static byte[] encode(List<String> ids) {
    int size = Integer.BYTES;
    for (String id : ids) {
      if (!plainAscii(id)) {
        return encodeModifiedUtf8(ids);
      }
      size += Short.BYTES + id.length();
    }
    ByteBuffer out = ByteBuffer.allocate(size); // big-endian, as DataOutputStream writes
    out.putInt(ids.size());
    for (String id : ids) {
      out.putShort((short) id.length());
      for (int i = 0; i < id.length(); i++) {
        out.put((byte) id.charAt(i));
      }
    }
    return out.array();
  }

  private static boolean plainAscii(String id) {
    if (id.length() > 0xffff) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (c == 0 || c > 0x7f) {
        return false;
      }
    }
    return true;
  }

  private static byte[] encodeModifiedUtf8(List<String> ids) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.size() * 16);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(ids.size());
      for (String id : ids) {
        out.writeUTF(id);
      }
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
