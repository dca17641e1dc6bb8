package dev.retain.train;

import dev.retain.record.Example;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What the learner has learned so far, the base's pretraining included: the domains (only those are
 * scored) and the classes (logit-replay targets leave the others free). Ingest may hold more: it
 * runs ahead. One training thread.
 */
final class Progress {
  private final Set<String> domains = new LinkedHashSet<>();
  private final boolean[] classes;

  Progress(int classes) {
    this.classes = new boolean[classes];
  }

  void learned(Example example) {
    domains.add(example.domain());
    classes[example.label()] = true;
  }

  void learnedAll(Collection<Example> examples) {
    examples.forEach(this::learned);
  }

  void learnedDomains(Collection<String> more) {
    domains.addAll(more);
  }

  boolean knows(String domain) {
    return domains.contains(domain);
  }

  /** Per class, whether it was learned; the caller must not change it. */
  boolean[] classes() {
    return classes;
  }

  int classesLearned() {
    int n = 0;
    for (boolean c : classes) {
      n += c ? 1 : 0;
    }
    return n;
  }
}
