package dev.retain.store;

import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Balanced reservoir of one model's examples. Examples fall into groups: by class, or (with {@code
 * byDomain}) by domain and class. Every group seen so far owns an equal share of the capacity
 * ({@code capacity / groups seen}, at least one slot); within a group, reservoir sampling keeps a
 * uniform sample of that group's stream. When a new group appears, groups above the smaller share
 * evict random slots. Sampling is uniform over the slots, so over groups too: by domain, an early
 * domain keeps as many slots as the latest one instead of fading with its share of the stream.
 *
 * <p>Written by the ingest thread through {@link #offer}, read by the learner through {@link
 * #sample}; both are synchronized. Changes go to the given {@link StoreBatch} and are applied in
 * memory at once: a batch that fails to commit must end the ingest loop, which then reloads.
 *
 * <p>For logit replay the learner marks the held examples it has trained on ({@link #markLearned})
 * and, at a consolidation, attaches a target (the logits it gives them then) to those without one.
 * Ingest runs ahead of the learner, so an example must not get a target before it is learned: the
 * target would pin the logits of a model that has not seen its domain yet. Marks and targets leave
 * with their example. Targets are the learner's state: it keeps them in its checkpoint and hands
 * them back through {@link #restoreTargets}.
 */
public final class ReplayBuffer {
  private final String model;
  private final int capacity;
  private final SplittableRandom random;
  private final boolean byDomain;
  private final Map<Group, ClassSlots> groups = new TreeMap<>();

  /** Every held example (by identity), and whether the learner has trained on it. */
  private final Map<Example, Boolean> held = new IdentityHashMap<>();

  private final Map<Example, float[]> targets = new IdentityHashMap<>();
  private int size;

  /** A group of slots: a class, within a domain when balancing by domain ("" otherwise). */
  private record Group(String domain, int label) implements Comparable<Group> {
    @Override
    public int compareTo(Group o) {
      int byDomain = domain.compareTo(o.domain);
      return byDomain != 0 ? byDomain : Integer.compare(label, o.label);
    }
  }

  private static final class ClassSlots {
    final List<Example> slots = new ArrayList<>();
    long seen;
    boolean dirty;
  }

  private ReplayBuffer(String model, int capacity, long seed, boolean byDomain) {
    if (capacity < 1) {
      throw new IllegalArgumentException("replay capacity must be >= 1, was " + capacity);
    }
    this.model = model;
    this.capacity = capacity;
    this.random = new SplittableRandom(seed);
    this.byDomain = byDomain;
  }

  /**
   * Loads the class-balanced reservoir of {@code model}; see {@link #load(RetainStore, String, int,
   * long, boolean)}.
   */
  public static ReplayBuffer load(RetainStore store, String model, int capacity, long seed) {
    return load(store, model, capacity, seed, false);
  }

  /**
   * Loads the reservoir of {@code model} from the store (empty when none was stored).
   *
   * @param byDomain balance over (domain, class) groups rather than classes
   */
  public static ReplayBuffer load(
      RetainStore store, String model, int capacity, long seed, boolean byDomain) {
    ReplayBuffer buffer = new ReplayBuffer(model, capacity, seed, byDomain);
    store.scan(
        Family.META,
        Keys.of("replay-seen").str(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          reader.str();
          buffer.slots(new Group(reader.str(), reader.i32())).seen = Keys.readLong(value);
        });
    store.scan(
        Family.REPLAY,
        Keys.of(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          Example example = StoredExample.decode(value, "replay");
          buffer.slots(new Group(reader.str(), reader.i32())).slots.add(example);
          buffer.held.put(example, false);
          buffer.size++;
        });
    return buffer;
  }

  private ClassSlots slots(Group group) {
    return groups.computeIfAbsent(group, g -> new ClassSlots());
  }

  private Group group(Example example) {
    return new Group(byDomain ? example.domain() : "", example.label());
  }

  /** Offers one example; it may take a slot (possibly replacing another) or be dropped. */
  public synchronized void offer(Example example, StoreBatch batch) {
    Group group = group(example);
    boolean newGroup = !groups.containsKey(group);
    ClassSlots own = slots(group);
    own.seen++;
    own.dirty = true;
    int share = Math.max(1, capacity / groups.size());
    if (newGroup) {
      shrinkTo(share, batch);
    }
    if (own.slots.size() < share) {
      own.slots.add(example);
      size++;
      hold(group, own.slots.size() - 1, example, batch);
    } else {
      sample(group, own, example, batch);
    }
  }

  /** Reservoir sampling: the example takes a random slot with probability slots / seen. */
  private void sample(Group group, ClassSlots own, Example example, StoreBatch batch) {
    long j = random.nextLong(own.seen);
    if (j < own.slots.size()) {
      forget(own.slots.set((int) j, example));
      hold(group, (int) j, example, batch);
    }
  }

  /** Notes that slot {@code slot} of {@code group} now holds {@code example}, not yet learned. */
  private void hold(Group group, int slot, Example example, StoreBatch batch) {
    held.put(example, false);
    batch.put(Family.REPLAY, slotKey(group, slot), StoredExample.encode(example));
  }

  /** Writes the per-class counters changed since the last flush; called once per batch. */
  public synchronized void flush(StoreBatch batch) {
    groups.forEach(
        (group, c) -> {
          if (c.dirty) {
            batch.put(Family.META, seenKey(group), Keys.longValue(c.seen));
            c.dirty = false;
          }
        });
  }

  /** Evicts random slots from every group holding more than {@code share}. */
  private void shrinkTo(int share, StoreBatch batch) {
    for (Map.Entry<Group, ClassSlots> entry : groups.entrySet()) {
      while (entry.getValue().slots.size() > share) {
        evictOne(entry.getKey(), entry.getValue().slots, batch);
      }
    }
  }

  /** Evicts a random slot of the group: the last slot moves into it. */
  private void evictOne(Group group, List<Example> slots, StoreBatch batch) {
    int victim = random.nextInt(slots.size());
    int last = slots.size() - 1;
    Example moved = slots.remove(last);
    size--;
    batch.delete(Family.REPLAY, slotKey(group, last));
    if (victim == last) {
      forget(moved);
    } else {
      forget(slots.set(victim, moved));
      batch.put(Family.REPLAY, slotKey(group, victim), StoredExample.encode(moved));
    }
  }

  /**
   * Up to {@code n} examples drawn uniformly, with replacement, from the held examples the learner
   * has trained on ({@link #markLearned}). Ingest runs ahead of the learner: replaying an example
   * it has not reached would train on data that the learner's position (a candidate's provenance)
   * does not cover yet.
   */
  public synchronized List<Example> sample(int n, SplittableRandom rng) {
    List<Example> learned = new ArrayList<>(size);
    groups.values().forEach(c -> c.slots.stream().filter(held::get).forEach(learned::add));
    List<Example> out = new ArrayList<>(n);
    for (int i = 0; i < n && !learned.isEmpty(); i++) {
      out.add(learned.get(rng.nextInt(learned.size())));
    }
    return out;
  }

  /**
   * Counts every held example as learned: after a restart, what the store holds was ingested before
   * it, and the learner will not be handed it again.
   */
  public synchronized void markAllLearned() {
    held.replaceAll((e, learned) -> true);
  }

  private void forget(Example example) {
    held.remove(example);
    targets.remove(example);
  }

  /** Notes that the learner has trained on {@code examples}; those not held are ignored. */
  public synchronized void markLearned(List<Example> examples) {
    examples.forEach(e -> held.replace(e, true));
  }

  /** Held examples that the learner has trained on but that have no target yet, in slot order. */
  public synchronized List<Example> untargeted() {
    List<Example> out = new ArrayList<>();
    groups
        .values()
        .forEach(
            c ->
                c.slots.stream()
                    .filter(e -> held.get(e) && !targets.containsKey(e))
                    .forEach(out::add));
    return out;
  }

  /**
   * Attaches {@code logits} (row i for example i, {@code classes} values each) as targets to those
   * of {@code examples} that are still held; examples replaced meanwhile are skipped.
   */
  public synchronized void target(List<Example> examples, float[] logits, int classes) {
    for (int i = 0; i < examples.size(); i++) {
      if (held.containsKey(examples.get(i))) {
        float[] row = new float[classes];
        System.arraycopy(logits, i * classes, row, 0, classes);
        targets.put(examples.get(i), row);
      }
    }
  }

  /** The target of each of {@code examples} (null where it has none, or is no longer held). */
  public synchronized List<float[]> targets(List<Example> examples) {
    List<float[]> out = new ArrayList<>(examples.size());
    examples.forEach(e -> out.add(targets.get(e)));
    return out;
  }

  /** Every target, by example id, for the learner's checkpoint. */
  public synchronized Map<String, float[]> targetsById() {
    Map<String, float[]> out = new LinkedHashMap<>();
    targets.forEach((e, t) -> out.put(e.id(), t));
    return out;
  }

  /**
   * Replaces all targets by {@code byId}, attaching each to the held example of that id (which
   * counts as learned).
   */
  public synchronized void restoreTargets(Map<String, float[]> byId) {
    targets.clear();
    held.replaceAll(
        (e, learned) -> {
          float[] t = byId.get(e.id());
          if (t == null) {
            return learned;
          }
          targets.put(e, t);
          return true;
        });
  }

  public synchronized int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  /** Slots held per class (summed over domains). */
  public synchronized Map<Integer, Integer> sizeByClass() {
    Map<Integer, Integer> out = new TreeMap<>();
    groups.forEach((g, c) -> out.merge(g.label(), c.slots.size(), Integer::sum));
    return out;
  }

  /** Slots held per domain; one entry, "", when not balancing by domain. */
  public synchronized Map<String, Integer> sizeByDomain() {
    Map<String, Integer> out = new TreeMap<>();
    groups.forEach((g, c) -> out.merge(g.domain(), c.slots.size(), Integer::sum));
    return out;
  }

  /** Examples of each class offered so far. */
  public synchronized Map<Integer, Long> seenByClass() {
    Map<Integer, Long> out = new TreeMap<>();
    groups.forEach((g, c) -> out.merge(g.label(), c.seen, Long::sum));
    return out;
  }

  /** A copy of every stored example. */
  public synchronized List<Example> snapshot() {
    List<Example> out = new ArrayList<>(size);
    groups.values().forEach(c -> out.addAll(c.slots));
    return out;
  }

  private byte[] slotKey(Group group, int slot) {
    return Keys.of(model).str(group.domain()).i32(group.label()).i32(slot).bytes();
  }

  private byte[] seenKey(Group group) {
    return Keys.of("replay-seen").str(model).str(group.domain()).i32(group.label()).bytes();
  }
}
