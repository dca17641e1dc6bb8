package dev.retain.store;

import java.util.List;

/**
 * The regimes of a stream whose records carry no domain: records without one get the name of the
 * current regime ({@code retain.record.default.domain} until a drift detector opens the first, then
 * {@code regime-1}, {@code regime-2}, …), so that each regime has its own holdout from the point it
 * opened. The current regime survives a restart through the holdout's domain index. Ingest reads it
 * on the absorb thread, the learner opens the next on its own: thread-safe.
 */
public final class Regimes {
  /** The prefix of a regime's name. */
  public static final String PREFIX = "regime-";

  private final String first;
  private volatile int current; // 0: the first, which has the default domain's name
  private volatile String name; // the current regime's: read for every record, made once

  Regimes(String first, int current) {
    this.first = first;
    this.current = current;
    this.name = name(current);
  }

  private String name(int n) {
    return n == 0 ? first : PREFIX + n;
  }

  /** The regimes named in {@code domains} (a holdout's), continuing from the latest. */
  static Regimes of(String defaultDomain, List<String> domains) {
    int latest = 0;
    for (String d : domains) {
      if (d.startsWith(PREFIX) && d.substring(PREFIX.length()).matches("[0-9]{1,9}")) {
        latest = Math.max(latest, Integer.parseInt(d.substring(PREFIX.length())));
      }
    }
    return new Regimes(defaultDomain, latest);
  }

  /** The name records without a domain get now. */
  public String current() {
    return name;
  }

  /** The number of the current regime (0 before any drift was detected). */
  public int number() {
    return current;
  }

  /** True when {@code domain} names a regime (records that came without a domain). */
  public boolean isRegime(String domain) {
    return domain.equals(first) || domain.startsWith(PREFIX);
  }

  /** Opens the next regime; its name. */
  public synchronized String open() {
    name = name(current + 1);
    current++;
    return name;
  }
}
