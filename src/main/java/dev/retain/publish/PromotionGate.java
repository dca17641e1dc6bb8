package dev.retain.publish;

import java.util.Map;
import java.util.Optional;

/**
 * Decides whether a candidate may replace the champion, from evidence rather than a fixed margin.
 * Both were evaluated on the same holdout sets at the same moment. On each domain d both were
 * evaluated on, the candidate's <em>significant loss</em> is what it lost beyond the holdout's
 * sampling noise:
 *
 * <pre>
 *   loss_d = max(0, (champion_d − candidate_d) − z · sqrt(2 p̄(1 − p̄) / n_d)),  p̄ = mean of the two
 * </pre>
 *
 * A candidate is promoted when
 *
 * <ol>
 *   <li>no domain's significant loss exceeds {@code maxDomainDrop} (a domain lost badly is never
 *       accepted, whatever else was learned: {@link Reason#DOMAIN_DROP});
 *   <li>its average is at least the champion's: with no significant loss, learning nothing new is
 *       no reason to swap ({@link Reason#AVERAGE_DROP}); with some, it must have learned more than
 *       it lost, so its average must be strictly higher ({@link Reason#AVERAGE_DROP});
 *   <li>the mean significant loss over the domains stays within {@code forgettingBudget} ({@link
 *       Reason#FORGETTING_BUDGET}).
 * </ol>
 *
 * The first candidate, with no champion to protect, must beat a trivial baseline (always answering
 * each domain's most frequent holdout class) on average ({@link Reason#BELOW_BASELINE}), so a
 * broken model is never the first version served.
 */
public final class PromotionGate {
  /** Why a candidate was rejected; the tag of the rejection counter. */
  public enum Reason {
    DOMAIN_DROP("domain_drop"),
    AVERAGE_DROP("average_drop"),
    FORGETTING_BUDGET("forgetting_budget"),
    BELOW_BASELINE("below_baseline"),
    NON_FINITE("non_finite"),
    UNCHANGED("unchanged");

    private final String tag;

    Reason(String tag) {
      this.tag = tag;
    }

    public String tag() {
      return tag;
    }
  }

  /**
   * What the gate reads of one evaluation.
   *
   * @param candidate the candidate's accuracy per domain
   * @param champion the champion's accuracy per domain on the same holdouts (or, for the first
   *     candidate, the trivial baseline's)
   * @param holdoutSizes examples per domain's holdout; a domain missing here counts as noiseless
   */
  public record Evidence(
      Map<String, Double> candidate,
      Map<String, Double> champion,
      Map<String, Integer> holdoutSizes) {}

  private final double z;
  private final double maxDomainDrop;
  private final double forgettingBudget;

  /**
   * @param z how many standard errors of a domain's accuracy difference count as noise (1.645: a
   *     one-sided 95% bound; 0: every difference is real)
   * @param maxDomainDrop largest significant loss allowed on any one domain
   * @param forgettingBudget largest mean significant loss over the domains
   */
  public PromotionGate(double z, double maxDomainDrop, double forgettingBudget) {
    check("z", z, 0, 10);
    check("maxDomainDrop", maxDomainDrop, 0, 1);
    check("forgettingBudget", forgettingBudget, 0, 1);
    this.z = z;
    this.maxDomainDrop = maxDomainDrop;
    this.forgettingBudget = forgettingBudget;
  }

  private static void check(String name, double value, double min, double max) {
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException(
          name + " must be in [" + min + ", " + max + "], was " + value);
    }
  }

  /** Empty when the candidate may replace the champion, else why not. */
  public Optional<Reason> judge(Evidence evidence) {
    double lossSum = 0;
    double diffSum = 0;
    int n = 0;
    for (Map.Entry<String, Double> entry : evidence.champion().entrySet()) {
      Double mine = evidence.candidate().get(entry.getKey());
      double theirs = entry.getValue();
      if (mine == null || Double.isNaN(theirs)) {
        continue;
      }
      if (Double.isNaN(mine)) {
        return Optional.of(Reason.DOMAIN_DROP);
      }
      double loss =
          Math.max(
              0, theirs - mine - noise(mine, theirs, evidence.holdoutSizes().get(entry.getKey())));
      if (loss > maxDomainDrop) {
        return Optional.of(Reason.DOMAIN_DROP);
      }
      lossSum += loss;
      diffSum += mine - theirs;
      n++;
    }
    if (n == 0) {
      return Optional.empty();
    }
    if (lossSum > 0 ? diffSum <= 0 : diffSum < -1e-12) {
      return Optional.of(Reason.AVERAGE_DROP);
    }
    if (lossSum / n > forgettingBudget) {
      return Optional.of(Reason.FORGETTING_BUDGET);
    }
    return Optional.empty();
  }

  /**
   * The first candidate against the trivial baseline: empty when its average beats the baseline's
   * over the domains both have, else {@link Reason#BELOW_BASELINE}. A candidate with a non-finite
   * accuracy anywhere never passes.
   */
  public Optional<Reason> judgeFirst(Map<String, Double> candidate, Map<String, Double> baseline) {
    double diff = 0;
    for (Map.Entry<String, Double> entry : candidate.entrySet()) {
      if (!Double.isFinite(entry.getValue())) {
        return Optional.of(Reason.BELOW_BASELINE);
      }
      Double base = baseline.get(entry.getKey());
      if (base != null) {
        diff += entry.getValue() - base;
      }
    }
    return baseline.isEmpty() || diff > 0 ? Optional.empty() : Optional.of(Reason.BELOW_BASELINE);
  }

  /** z standard errors of the difference of two accuracies, each measured on {@code n} examples. */
  private double noise(double a, double b, Integer n) {
    if (n == null || n <= 0) {
      return 0;
    }
    double p = (a + b) / 2;
    return z * Math.sqrt(2 * p * (1 - p) / n);
  }
}
