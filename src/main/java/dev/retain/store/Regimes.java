package dev.retain.store;

import dev.retain.record.Example;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The regimes of a stream whose records carry no domain. Records without one get the name of the
 * current regime: {@code retain.record.default.domain} until a drift detector opens the first, then
 * {@code regime-1}, {@code regime-2}, …, or an earlier regime's name again when the learner
 * recognises that it recurs.
 *
 * <p>A regime starts at a position, the learner's when it opened it, not at whatever record ingest
 * reads next: ingest may be thousands of records ahead of the learner. Opening one moves the
 * held-out examples that lie past its start into it; ingest names every record it routes from then
 * on after it ({@link ModelState#route}), and the learner names what it takes after it. Ingest's
 * next write stores the change ({@link #flush}). Thread-safe.
 */
public final class Regimes {
  /** The prefix of a regime's name. */
  public static final String PREFIX = "regime-";

  private final String model;
  private final String first;
  private final HoldoutSets holdout;
  private int opened; // the number of the latest regime opened; guarded by this
  private volatile String name; // the current regime's: read for every record
  private boolean dirty; // guarded by this

  Regimes(String model, String first, int opened, String current, HoldoutSets holdout) {
    this.model = model;
    this.first = first;
    this.opened = opened;
    this.name = current;
    this.holdout = holdout;
  }

  /** A stream's regimes as stored, or, for a store written before they were, from its holdouts. */
  static Regimes load(RetainStore store, String model, String first, HoldoutSets holdout) {
    byte[] stored = store.get(Family.META, key(model));
    if (stored != null) {
      ByteBuffer in = ByteBuffer.wrap(stored);
      int opened = in.getInt();
      String current = StandardCharsets.UTF_8.decode(in.slice()).toString();
      return new Regimes(model, first, opened, current, holdout);
    }
    int latest = 0;
    for (String d : holdout.domains()) {
      latest = Math.max(latest, number(d));
    }
    return new Regimes(model, first, latest, latest == 0 ? first : PREFIX + latest, holdout);
  }

  private static byte[] key(String model) {
    return Keys.of("regimes").str(model).bytes();
  }

  /** The number in a regime's name (0 for the first, -1 for another domain). */
  private static int number(String domain) {
    int digits = domain.length() - PREFIX.length();
    if (!domain.startsWith(PREFIX) || digits < 1 || digits > 9) {
      return -1;
    }
    for (int i = PREFIX.length(); i < domain.length(); i++) {
      if (domain.charAt(i) < '0' || domain.charAt(i) > '9') {
        return -1;
      }
    }
    return Integer.parseInt(domain.substring(PREFIX.length()));
  }

  /** The name records without a domain get now. */
  public String current() {
    return name;
  }

  /** The number of the current regime (0 for the first, before any drift was detected). */
  public int number() {
    return Math.max(0, number(name));
  }

  /** True when {@code domain} names a regime (records that came without a domain). */
  public boolean isRegime(String domain) {
    return domain.equals(first) || number(domain) > 0;
  }

  /**
   * Opens the next regime at {@code start}, the learner's position (the first offset per partition
   * it has not taken: a partition not named lies wholly past it); its name.
   */
  public synchronized String open(Map<Integer, Long> start) {
    String from = name;
    opened++;
    name = PREFIX + opened;
    holdout.move(from, name, start);
    dirty = true;
    return name;
  }

  /**
   * Opens {@code name} at {@code start} again when it is a regime later than any stored: the
   * learner's checkpoint says it opened it there, and a crash came before ingest stored the change.
   * Does nothing otherwise.
   */
  public synchronized void reopen(String name, Map<Integer, Long> start) {
    int number = number(name);
    if (number > opened) {
      opened = number - 1;
      open(start);
    }
  }

  /**
   * The current regime, opened at the last drift, is {@code earlier} again: its held-out examples
   * join {@code earlier}'s and records are named after it from now on.
   */
  public synchronized void resume(String earlier) {
    if (!isRegime(earlier)) {
      throw new IllegalArgumentException(earlier + " is not a regime");
    }
    holdout.move(name, earlier, Map.of());
    name = earlier;
    dirty = true;
  }

  /**
   * {@code example} named after the current regime when it came without a domain and was named
   * after an earlier one (read before a change). Callers that act on the name hold this object's
   * lock, so that no regime opens in between.
   */
  synchronized Example named(Example example) {
    boolean stale = !example.domain().equals(name) && isRegime(example.domain());
    return stale ? example.inDomain(name) : example;
  }

  /** Writes the current regime when it changed since the last flush. */
  synchronized void flush(StoreBatch batch) {
    if (!dirty) {
      return;
    }
    byte[] current = name.getBytes(StandardCharsets.UTF_8);
    batch.put(
        Family.META,
        key(model),
        ByteBuffer.allocate(Integer.BYTES + current.length).putInt(opened).put(current).array());
    dirty = false;
  }

  /** True when a change waits for the next flush. */
  synchronized boolean changed() {
    return dirty;
  }
}
