package dev.retain.store;

import dev.retain.record.Example;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bounded evaluation sets, one per domain of one model: every {@code every}-th example of a domain
 * is held out until the domain's set holds {@code maxPerDomain}. Held-out examples are never
 * trained on. Written by the ingest thread, read by the evaluator; methods are synchronized.
 */
public final class HoldoutSets {
  private final String model;
  private final int every;
  private final int maxPerDomain;
  private final Map<String, Domain> domains = new LinkedHashMap<>();

  private static final class Domain {
    final List<Example> examples = new ArrayList<>();
    long seen;
    boolean dirty;
  }

  private HoldoutSets(String model, int every, int maxPerDomain) {
    this.model = model;
    this.every = every;
    this.maxPerDomain = maxPerDomain;
  }

  public static HoldoutSets load(RetainStore store, String model, int every, int maxPerDomain) {
    HoldoutSets sets = new HoldoutSets(model, every, maxPerDomain);
    store.scan(
        Family.META,
        Keys.of("domain-index").str(model).bytes(),
        (key, value) -> sets.domain(new String(value, StandardCharsets.UTF_8)));
    store.scan(
        Family.META,
        Keys.of("domain-seen").str(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          reader.str();
          sets.domain(reader.str()).seen = Keys.readLong(value);
        });
    store.scan(
        Family.HOLDOUT,
        Keys.of(model).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          sets.domain(reader.str()).examples.add(StoredExample.decode(value, "holdout"));
        });
    return sets;
  }

  private Domain domain(String name) {
    return domains.computeIfAbsent(name, n -> new Domain());
  }

  /**
   * Counts the example in its domain and holds it out when its turn has come.
   *
   * @return true when the example was held out (and so must not be trained on)
   */
  /** The domain of {@code example}, indexed in {@code batch} when it is new. */
  private Domain domainOf(Example example, StoreBatch batch) {
    Domain domain = domains.get(example.domain());
    if (domain == null) {
      byte[] key = Keys.of("domain-index").str(model).i32(domains.size()).bytes();
      batch.put(Family.META, key, example.domain().getBytes(StandardCharsets.UTF_8));
      domain = domain(example.domain());
    }
    return domain;
  }

  public synchronized boolean offer(Example example, StoreBatch batch) {
    Domain domain = domainOf(example, batch);
    domain.seen++;
    domain.dirty = true; // the counter is written once per batch, by flush
    if (domain.seen % every != 0 || domain.examples.size() >= maxPerDomain) {
      return false;
    }
    byte[] key = Keys.of(model).str(example.domain()).i32(domain.examples.size()).bytes();
    batch.put(Family.HOLDOUT, key, StoredExample.encode(example));
    domain.examples.add(example);
    return true;
  }

  /** Writes the per-domain counters changed since the last flush; called once per batch. */
  public synchronized void flush(StoreBatch batch) {
    domains.forEach(
        (name, d) -> {
          if (d.dirty) {
            batch.put(
                Family.META,
                Keys.of("domain-seen").str(model).str(name).bytes(),
                Keys.longValue(d.seen));
            d.dirty = false;
          }
        });
  }

  /** Domains in order of first appearance. */
  /** True when {@code domain} is known, or fewer than {@code max} domains are. */
  public synchronized boolean admits(String domain, int max) {
    return domains.containsKey(domain) || domains.size() < max;
  }

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
