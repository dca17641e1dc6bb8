package dev.retain.publish;

import java.util.Map;
import java.util.Optional;

/**
 * Decides whether a candidate may replace the champion: on every domain both were evaluated on, the
 * candidate's holdout accuracy must be at least the champion's minus epsilon, and its average over
 * those domains must not be lower. Both are measured on the same holdout sets at the same moment.
 */
public final class PromotionGate {
  /** Why a candidate was rejected; the tag of the rejection counter. */
  public enum Reason {
    DOMAIN_DROP("domain_drop"),
    AVERAGE_DROP("average_drop"),
    UNCHANGED("unchanged");

    private final String tag;

    Reason(String tag) {
      this.tag = tag;
    }

    public String tag() {
      return tag;
    }
  }

  private final double epsilon;

  public PromotionGate(double epsilon) {
    if (epsilon < 0) {
      throw new IllegalArgumentException("epsilon must be >= 0, was " + epsilon);
    }
    this.epsilon = epsilon;
  }

  /** Empty when {@code candidate} may be promoted over {@code champion}, else why not. */
  public Optional<Reason> judge(Map<String, Double> candidate, Map<String, Double> champion) {
    double candidateSum = 0;
    double championSum = 0;
    int n = 0;
    for (Map.Entry<String, Double> entry : champion.entrySet()) {
      Double mine = candidate.get(entry.getKey());
      if (mine == null || entry.getValue().isNaN()) {
        continue;
      }
      if (mine < entry.getValue() - epsilon) {
        return Optional.of(Reason.DOMAIN_DROP);
      }
      candidateSum += mine;
      championSum += entry.getValue();
      n++;
    }
    if (n > 0 && candidateSum < championSum - 1e-12) {
      return Optional.of(Reason.AVERAGE_DROP);
    }
    return Optional.empty();
  }
}
