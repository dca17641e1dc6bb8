package dev.retain.store;

import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Class-balanced reservoir of one model's examples. Every class seen so far owns an equal share of
 * the capacity ({@code capacity / classes seen}); within a class, reservoir sampling keeps a
 * uniform sample of that class's stream. When a new class appears, classes above the smaller share
 * evict random slots.
 *
 * <p>Written by the ingest thread through {@link #offer}, read by the learner through {@link
 * #sample}; both are synchronized. Changes go to the given {@link StoreBatch} and are applied in
 * memory at once: a batch that fails to commit must end the ingest loop, which then reloads.
 */
public final class ReplayBuffer {
  private final String model;
  private final int capacity;
  private final SplittableRandom random;
  private final Map<Integer, ClassSlots> classes = new TreeMap<>();
  private int size;

  private static final class ClassSlots {
    final List<Example> slots = new ArrayList<>();
    long seen;
    boolean dirty;
  }

  private ReplayBuffer(String model, int capacity, long seed) {
    if (capacity < 1) {
      throw new IllegalArgumentException("replay capacity must be >= 1, was " + capacity);
    }
    this.model = model;
    this.capacity = capacity;
    this.random = new SplittableRandom(seed);
  }

  /** Loads the reservoir of {@code model} from the store (empty when none was stored). */
  public static ReplayBuffer load(RetainStore store, String model, int capacity, long seed) {
    ReplayBuffer buffer = new ReplayBuffer(model, capacity, seed);
    store.scan(
        Family.META,
        Keys.of("replay-seen").str(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          reader.str();
          buffer.slots(reader.i32()).seen = Keys.readLong(value);
        });
    store.scan(
        Family.REPLAY,
        Keys.of(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          buffer.slots(reader.i32()).slots.add(StoredExample.decode(value, "replay"));
          buffer.size++;
        });
    return buffer;
  }

  private ClassSlots slots(int label) {
    return classes.computeIfAbsent(label, l -> new ClassSlots());
  }

  /** Offers one example; it may take a slot (possibly replacing another) or be dropped. */
  public synchronized void offer(Example example, StoreBatch batch) {
    boolean newClass = !classes.containsKey(example.label());
    ClassSlots own = slots(example.label());
    own.seen++;
    own.dirty = true;
    int share = capacity / classes.size();
    if (newClass) {
      shrinkTo(share, batch);
    }
    if (own.slots.size() < share) {
      own.slots.add(example);
      size++;
      batch.put(
          Family.REPLAY,
          slotKey(example.label(), own.slots.size() - 1),
          StoredExample.encode(example));
    } else {
      long j = random.nextLong(own.seen);
      if (j < own.slots.size()) {
        own.slots.set((int) j, example);
        batch.put(Family.REPLAY, slotKey(example.label(), (int) j), StoredExample.encode(example));
      }
    }
  }

  /** Writes the per-class counters changed since the last flush; called once per batch. */
  public synchronized void flush(StoreBatch batch) {
    classes.forEach(
        (label, c) -> {
          if (c.dirty) {
            batch.put(Family.META, seenKey(label), Keys.longValue(c.seen));
            c.dirty = false;
          }
        });
  }

  /** Evicts random slots from every class holding more than {@code share}. */
  private void shrinkTo(int share, StoreBatch batch) {
    for (Map.Entry<Integer, ClassSlots> entry : classes.entrySet()) {
      List<Example> slots = entry.getValue().slots;
      while (slots.size() > share) {
        int victim = random.nextInt(slots.size());
        int last = slots.size() - 1;
        Example moved = slots.remove(last);
        size--;
        batch.delete(Family.REPLAY, slotKey(entry.getKey(), last));
        if (victim != last) {
          slots.set(victim, moved);
          batch.put(Family.REPLAY, slotKey(entry.getKey(), victim), StoredExample.encode(moved));
        }
      }
    }
  }

  /** Up to {@code n} examples drawn uniformly, with replacement, from all slots. */
  public synchronized List<Example> sample(int n, SplittableRandom rng) {
    List<Example> out = new ArrayList<>(n);
    if (size == 0) {
      return out;
    }
    List<List<Example>> all = new ArrayList<>();
    classes.values().forEach(c -> all.add(c.slots));
    for (int i = 0; i < n; i++) {
      int k = rng.nextInt(size);
      for (List<Example> slots : all) {
        if (k < slots.size()) {
          out.add(slots.get(k));
          break;
        }
        k -= slots.size();
      }
    }
    return out;
  }

  public synchronized int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  /** Slots held per class. */
  public synchronized Map<Integer, Integer> sizeByClass() {
    Map<Integer, Integer> out = new TreeMap<>();
    classes.forEach((label, c) -> out.put(label, c.slots.size()));
    return out;
  }

  /** Examples of each class offered so far. */
  public synchronized Map<Integer, Long> seenByClass() {
    Map<Integer, Long> out = new TreeMap<>();
    classes.forEach((label, c) -> out.put(label, c.seen));
    return out;
  }

  /** A copy of every stored example. */
  public synchronized List<Example> snapshot() {
    List<Example> out = new ArrayList<>(size);
    classes.values().forEach(c -> out.addAll(c.slots));
    return out;
  }

  private byte[] slotKey(int label, int slot) {
    return Keys.of(model).i32(label).i32(slot).bytes();
  }

  private byte[] seenKey(int label) {
    return Keys.of("replay-seen").str(model).i32(label).bytes();
  }
}
