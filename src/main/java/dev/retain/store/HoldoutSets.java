package dev.retain.store;

import dev.retain.record.Example;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Bounded evaluation sets, one per domain of one model. Every {@code every}-th example of a domain
 * is a candidate; the set keeps a uniform sample of its domain's candidates (a reservoir of {@code
 * maxPerDomain}), so that a long stationary domain keeps refreshing its set rather than freezing on
 * its first examples. Held-out examples are never trained on; one that leaves the set is dropped.
 * Each example keeps its Kafka position, so that a regime opened later can take the examples that
 * lie past its start ({@link #move}). Written by the ingest thread, read by the evaluator; methods
 * are synchronized.
 */
public final class HoldoutSets {
  /** The position of an example stored before positions were kept: never moved. */
  public static final long UNKNOWN = -1;

  private final String model;
  private final int every;
  private final int maxPerDomain;
  private final Random random;
  private final Map<String, Domain> domains = new LinkedHashMap<>();
  private int indexed; // domains in the store's index

  private static final class Domain {
    final List<Example> examples = new ArrayList<>();
    final List<Long> positions = new ArrayList<>();
    final BitSet changed = new BitSet(); // slots to write at the next flush
    int stored; // slots in the store
    long seen;
    boolean dirty;
  }

  private HoldoutSets(String model, int every, int maxPerDomain) {
    this.model = model;
    this.every = every;
    this.maxPerDomain = maxPerDomain;
    this.random = new Random(model.hashCode() * 31L + every);
  }

  public static HoldoutSets load(RetainStore store, String model, int every, int maxPerDomain) {
    HoldoutSets sets = new HoldoutSets(model, every, maxPerDomain);
    store.scan(
        Family.META,
        Keys.of("domain-index").str(model).bytes(),
        (key, value) -> sets.domain(new String(value, StandardCharsets.UTF_8)));
    sets.scanPerDomain(store, Family.META, "domain-seen", (d, key, v) -> d.seen = Keys.readLong(v));
    sets.scanPerDomain(
        store,
        Family.HOLDOUT,
        null,
        (d, key, value) -> {
          d.examples.add(StoredExample.decode(value, "holdout"));
          d.positions.add(UNKNOWN);
        });
    sets.scanPerDomain(
        store,
        Family.META,
        "holdout-position",
        (d, key, value) -> {
          int index = key.i32();
          if (index < d.positions.size()) {
            d.positions.set(index, Keys.readLong(value));
          }
        });
    sets.domains.values().forEach(d -> d.stored = d.examples.size());
    sets.indexed = sets.domains.size();
    return sets;
  }

  /** What a per-domain key's value does to its domain; {@code key} is read past the domain. */
  private interface PerDomain {
    void read(Domain domain, Keys.Reader key, byte[] value);
  }

  /** Scans keys {@code [kind,] model, domain, ...} and hands each to {@code read}. */
  private void scanPerDomain(RetainStore store, Family family, String kind, PerDomain read) {
    Keys prefix = kind == null ? Keys.of(model) : Keys.of(kind).str(model);
    store.scan(
        family,
        prefix.bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          if (kind != null) {
            reader.str();
          }
          read.read(domain(reader.str()), reader, value);
        });
  }

  /** A Kafka position packed into one number: partition in the top 16 bits, offset below. */
  public static long position(int partition, long offset) {
    return ((long) partition << 48) | offset;
  }

  static int partitionOf(long position) {
    return (int) (position >>> 48);
  }

  static long offsetOf(long position) {
    return position & ((1L << 48) - 1);
  }

  private Domain domain(String name) {
    return domains.computeIfAbsent(name, n -> new Domain());
  }

  /** {@link #offer(Example, long)} for an example without a Kafka position. */
  public boolean offer(Example example) {
    return offer(example, UNKNOWN);
  }

  /**
   * Counts the example in its domain and holds it out when it is a candidate and the reservoir
   * takes it (always while the set is not full). What changed is written by the next {@link
   * #flush}.
   *
   * @param position where the record was read ({@link #position}), or {@link #UNKNOWN}
   * @return true when the example was held out (and so must not be trained on)
   */
  public synchronized boolean offer(Example example, long position) {
    Domain domain = domain(example.domain());
    domain.seen++;
    domain.dirty = true; // the counter is written once per batch, by flush
    if (domain.seen % every != 0) {
      return false;
    }
    int slot = slot(domain);
    if (slot < 0) {
      return false;
    }
    if (slot == domain.examples.size()) {
      domain.examples.add(example);
      domain.positions.add(position);
    } else {
      domain.examples.set(slot, example);
      domain.positions.set(slot, position);
    }
    domain.changed.set(slot);
    return true;
  }

  /**
   * The slot of the domain's newest candidate: the next one while the set is not full, then a
   * random member's with probability size / candidates (reservoir sampling), else -1.
   */
  private int slot(Domain domain) {
    if (domain.examples.size() < maxPerDomain) {
      return domain.examples.size();
    }
    long pick = (long) (random.nextDouble() * (domain.seen / every));
    return pick < maxPerDomain ? (int) pick : -1;
  }

  private void put(StoreBatch batch, String domain, int slot, Example example, long position) {
    batch.put(
        Family.HOLDOUT,
        Keys.of(model).str(domain).i32(slot).bytes(),
        StoredExample.encode(example));
    byte[] positionKey = Keys.of("holdout-position").str(model).str(domain).i32(slot).bytes();
    if (position == UNKNOWN) {
      batch.delete(Family.META, positionKey);
    } else {
      batch.put(Family.META, positionKey, Keys.longValue(position));
    }
  }

  private void delete(StoreBatch batch, String domain, int slot) {
    batch.delete(Family.HOLDOUT, Keys.of(model).str(domain).i32(slot).bytes());
    batch.delete(Family.META, Keys.of("holdout-position").str(model).str(domain).i32(slot).bytes());
  }

  /** True when something changed since the last {@link #flush}. */
  public synchronized boolean changed() {
    return indexed < domains.size()
        || domains.values().stream().anyMatch(d -> d.dirty || !d.changed.isEmpty());
  }

  /**
   * Moves the examples of {@code from} that lie at or past {@code boundary} into {@code to}: a
   * regime opened at the learner's position takes what ingest had already read beyond it. A
   * partition that {@code boundary} does not name lies wholly past it; an example without a known
   * position stays. The domains' counts of examples seen move in proportion ({@code every} per
   * moved example, an estimate; their sum stays exact). The next {@link #flush} writes the move.
   *
   * @param boundary the first offset past the boundary, per partition
   * @return how many examples moved
   */
  public synchronized int move(String from, String to, Map<Integer, Long> boundary) {
    Domain source = domains.get(from);
    if (source == null || from.equals(to)) {
      return 0;
    }
    Domain target = domain(to);
    Domain kept = new Domain();
    int moved = 0;
    for (int i = 0; i < source.examples.size(); i++) {
      Domain into = past(source.positions.get(i), boundary) ? target : kept;
      moved += into == target ? 1 : 0;
      if (into.examples.size() < maxPerDomain) { // a full target drops it, as a reservoir would
        into.changed.set(into.examples.size());
        into.examples.add(
            into == target ? source.examples.get(i).inDomain(to) : source.examples.get(i));
        into.positions.add(source.positions.get(i));
      }
    }
    if (moved > 0) {
      long seen = Math.min(source.seen, (long) moved * every);
      replace(source, kept, seen);
      target.seen += seen;
      target.dirty = true;
    }
    return moved;
  }

  /** Gives {@code source} the examples of {@code kept} and {@code seen} fewer seen. */
  private static void replace(Domain source, Domain kept, long seen) {
    source.examples.clear();
    source.positions.clear();
    source.examples.addAll(kept.examples);
    source.positions.addAll(kept.positions);
    source.changed.set(0, kept.examples.size());
    source.seen -= seen;
    source.dirty = true;
  }

  private static boolean past(long position, Map<Integer, Long> boundary) {
    if (position == UNKNOWN) {
      return false;
    }
    Long first = boundary.get(partitionOf(position));
    return first == null || offsetOf(position) >= first;
  }

  /**
   * Writes what changed since the last flush (new domains, held-out examples, counters); called
   * once per batch.
   */
  public synchronized void flush(StoreBatch batch) {
    List<String> names = new ArrayList<>(domains.keySet());
    for (; indexed < names.size(); indexed++) {
      byte[] key = Keys.of("domain-index").str(model).i32(indexed).bytes();
      batch.put(Family.META, key, names.get(indexed).getBytes(StandardCharsets.UTF_8));
    }
    domains.forEach(
        (name, d) -> {
          flushExamples(batch, name, d);
          if (d.dirty) {
            batch.put(
                Family.META,
                Keys.of("domain-seen").str(model).str(name).bytes(),
                Keys.longValue(d.seen));
            d.dirty = false;
          }
        });
  }

  /** Writes the domain's changed slots and deletes the slots it no longer fills. */
  private void flushExamples(StoreBatch batch, String name, Domain d) {
    for (int slot = d.changed.nextSetBit(0);
        slot >= 0 && slot < d.examples.size();
        slot = d.changed.nextSetBit(slot + 1)) {
      put(batch, name, slot, d.examples.get(slot), d.positions.get(slot));
    }
    d.changed.clear();
    for (int slot = d.examples.size(); slot < d.stored; slot++) {
      delete(batch, name, slot);
    }
    d.stored = d.examples.size();
  }

  /** True when {@code domain} is known, or fewer than {@code max} domains are. */
  public synchronized boolean admits(String domain, int max) {
    return domains.containsKey(domain) || domains.size() < max;
  }

  /** Domains in order of first appearance. */
  public synchronized List<String> domains() {
    return new ArrayList<>(domains.keySet());
  }

  public synchronized List<Example> holdout(String domain) {
    Domain d = domains.get(domain);
    return d == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(d.examples));
  }

  /** True when the example {@code id} of {@code domain} is in that domain's holdout. */
  public synchronized boolean holds(String domain, String id) {
    Domain d = domains.get(domain);
    if (d == null) {
      return false;
    }
    for (Example e : d.examples) {
      if (e.id().equals(id)) {
        return true;
      }
    }
    return false;
  }

  /** Examples seen per domain (held out or not). */
  public synchronized Map<String, Long> seenByDomain() {
    Map<String, Long> out = new LinkedHashMap<>();
    domains.forEach((name, d) -> out.put(name, d.seen));
    return out;
  }

  public synchronized Map<String, Integer> sizeByDomain() {
    Map<String, Integer> out = new LinkedHashMap<>();
    domains.forEach((name, d) -> out.put(name, d.examples.size()));
    return out;
  }
}
