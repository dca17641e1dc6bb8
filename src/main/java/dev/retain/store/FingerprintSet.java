package dev.retain.store;

/**
 * A set of 128-bit fingerprints of strings in one {@code long} array (a slot's two halves side by
 * side, so that a probe touches one cache line), open addressing with linear probing and deletion
 * by backward shift (no tombstones). It holds no object per member, so remembering a window of ids
 * costs the collector nothing: a {@code HashSet<String>} kept each id alive for a whole window,
 * long enough to be promoted and later collected from the old generation (README, bench ingest).
 * Not thread-safe.
 *
 * <p>Fingerprints are MurmurHash3 x64-128 of the string's UTF-16 code units. Two different strings
 * share one with probability 2^-128 per pair: in a window of 100,000 ids, a new id is taken for a
 * duplicate by chance about once in 10^33 records.
 */
final class FingerprintSet {
  private static final long C1 = 0x87c37b91114253d5L;
  private static final long C2 = 0x4cf5ad432745937fL;

  /** Slot i is {@code table[2i]} (high half) and {@code table[2i + 1]} (low half, 0 when free). */
  private long[] table;

  private int mask;
  private int size;

  /** A set sized for {@code expected} members (at most 2^24; it grows beyond). */
  FingerprintSet(int expected) {
    int capacity = Integer.highestOneBit(Math.min(Math.max(16, expected), 1 << 24) * 2 - 1) * 2;
    allocate(capacity);
  }

  private void allocate(int capacity) {
    table = new long[2 * capacity];
    mask = capacity - 1;
  }

  boolean add(long h, long l) {
    int i = slot(h);
    while (table[2 * i + 1] != 0) {
      if (table[2 * i + 1] == l && table[2 * i] == h) {
        return false;
      }
      i = (i + 1) & mask;
    }
    table[2 * i] = h;
    table[2 * i + 1] = l;
    if (++size > (mask + 1) / 2) {
      grow();
    }
    return true;
  }

  /** Removes the fingerprint; true when it was there. */
  boolean remove(long h, long l) {
    int i = slot(h);
    while (table[2 * i + 1] != 0) {
      if (table[2 * i + 1] == l && table[2 * i] == h) {
        shiftBack(i);
        size--;
        return true;
      }
      i = (i + 1) & mask;
    }
    return false;
  }

  int size() {
    return size;
  }

  /**
   * Empties slot {@code hole} and moves later members of its probe run back into it where their
   * home slot allows, so that every member stays reachable from its home slot without tombstones.
   */
  private void shiftBack(int hole) {
    int next = (hole + 1) & mask;
    while (table[2 * next + 1] != 0) {
      int home = slot(table[2 * next]);
      // the member at next may fill the hole unless its home lies cyclically in (hole, next]
      boolean homeAfterHole =
          hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!homeAfterHole) {
        move(next, hole);
        hole = next;
      }
      next = (next + 1) & mask;
    }
    table[2 * hole] = 0;
    table[2 * hole + 1] = 0;
  }

  private void move(int from, int to) {
    table[2 * to] = table[2 * from];
    table[2 * to + 1] = table[2 * from + 1];
  }

  private void grow() {
    long[] old = table;
    allocate(old.length); // twice the slots: old.length / 2 of them before
    size = 0;
    for (int i = 0; i < old.length; i += 2) {
      if (old[i + 1] != 0) {
        add(old[i], old[i + 1]);
      }
    }
  }

  private int slot(long h) {
    return (int) h & mask;
  }

  /**
   * Writes the fingerprint of {@code s} to {@code out[at]} (high half) and {@code out[at + 1]} (low
   * half, never 0): MurmurHash3 x64-128 over the UTF-16LE code units.
   */
  static void fingerprint(String s, long[] out, int at) {
    int n = s.length();
    long h1 = 0;
    long h2 = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
      long k1 = chars(s, i, 4);
      long k2 = chars(s, i + 4, 4);
      h1 ^= mixK1(k1);
      h1 = Long.rotateLeft(h1, 27) + h2;
      h1 = h1 * 5 + 0x52dce729;
      h2 ^= mixK2(k2);
      h2 = Long.rotateLeft(h2, 31) + h1;
      h2 = h2 * 5 + 0x38495ab5;
    }
    int rest = n - i;
    if (rest > 4) {
      h2 ^= mixK2(chars(s, i + 4, rest - 4));
    }
    if (rest > 0) {
      h1 ^= mixK1(chars(s, i, Math.min(rest, 4)));
    }
    long bytes = 2L * n;
    h1 ^= bytes;
    h2 ^= bytes;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[at] = h1;
    out[at + 1] = h2 == 0 ? 1 : h2; // 0 marks a free slot
  }

  /** {@code count} (1 to 4) chars from {@code at}, the first in the lowest 16 bits. */
  private static long chars(String s, int at, int count) {
    long k = 0;
    for (int j = count - 1; j >= 0; j--) {
      k = (k << 16) | s.charAt(at + j);
    }
    return k;
  }

  private static long mixK1(long k1) {
    return Long.rotateLeft(k1 * C1, 31) * C2;
  }

  private static long mixK2(long k2) {
    return Long.rotateLeft(k2 * C2, 33) * C1;
  }

  private static long fmix64(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb93fe5aa4e53L;
    k ^= k >>> 33;
    return k;
  }
}
