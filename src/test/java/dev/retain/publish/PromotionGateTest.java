package dev.retain.publish;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class PromotionGateTest {
  private final PromotionGate gate = new PromotionGate(1.645, 0.15, 0.03);

  private static PromotionGate.Evidence evidence(
      Map<String, Double> candidate, Map<String, Double> champion, int n) {
    Map<String, Integer> sizes = new java.util.HashMap<>();
    champion.keySet().forEach(d -> sizes.put(d, n));
    return new PromotionGate.Evidence(candidate, champion, sizes);
  }

  @Test
  void shouldPromoteWhenAnOldDomainMovesWithinItsSamplingNoiseAndTheAverageRises() {
    // 1.5 points on 1,000 holdout examples at 90% is within 1.645 standard errors (2.2 points)
    assertThat(
            gate.judge(evidence(Map.of("a", 0.885, "b", 0.80), Map.of("a", 0.90, "b", 0.15), 1000)))
        .isEmpty();
  }

  @Test
  void shouldRejectTheSameDropWhenTheHoldoutIsLargeEnoughToShowIt() {
    // the same 1.5 points on 100,000 examples is real forgetting: it must pay for itself and fit
    // the budget; with 2 domains it is 0.75 points a domain after noise, within 0.03
    assertThat(
            gate.judge(
                evidence(Map.of("a", 0.885, "b", 0.90), Map.of("a", 0.90, "b", 0.90), 100_000)))
        .contains(PromotionGate.Reason.AVERAGE_DROP);
  }

  @Test
  void shouldPromoteALearnerThatPaysABoundedForgettingForANewDomain() {
    // class-incremental: the old pair loses 6 points, the new one goes from 0 to 85%
    assertThat(gate.judge(evidence(Map.of("a", 0.84, "b", 0.85), Map.of("a", 0.90, "b", 0.0), 600)))
        .isEmpty();
  }

  @Test
  void shouldRejectADomainLostBadlyWhateverWasLearned() {
    assertThat(gate.judge(evidence(Map.of("a", 0.60, "b", 0.95), Map.of("a", 0.90, "b", 0.0), 600)))
        .contains(PromotionGate.Reason.DOMAIN_DROP);
  }

  @Test
  void shouldRejectForgettingBeyondTheBudgetEvenWhenTheAverageRises() {
    // three domains each lose 10 points beyond noise: a mean of ~0.08 > 0.03
    Map<String, Double> champion = Map.of("a", 0.9, "b", 0.9, "c", 0.9, "d", 0.0);
    Map<String, Double> candidate = Map.of("a", 0.78, "b", 0.78, "c", 0.78, "d", 0.9);
    assertThat(gate.judge(evidence(candidate, champion, 1000)))
        .contains(PromotionGate.Reason.FORGETTING_BUDGET);
  }

  @Test
  void shouldRejectAnAverageBelowTheChampionsWithoutAnySignificantLoss() {
    assertThat(gate.judge(evidence(Map.of("a", 0.895, "b", 0.9), Map.of("a", 0.9, "b", 0.9), 1000)))
        .contains(PromotionGate.Reason.AVERAGE_DROP);
  }

  @Test
  void shouldJudgeOnlyDomainsBothWereEvaluatedOn() {
    assertThat(gate.judge(evidence(Map.of("a", 0.9, "new", 0.3), Map.of("a", 0.9), 1000)))
        .isEmpty();
  }

  @Test
  void shouldRejectANonFiniteCandidate() {
    assertThat(gate.judge(evidence(Map.of("a", Double.NaN), Map.of("a", 0.5), 1000)))
        .contains(PromotionGate.Reason.DOMAIN_DROP);
    assertThat(gate.judgeFirst(Map.of("a", Double.NaN), Map.of("a", 0.1)))
        .contains(PromotionGate.Reason.BELOW_BASELINE);
  }

  @Test
  void shouldPromoteTheFirstCandidateOnlyAboveTheMajorityClassBaseline() {
    assertThat(gate.judgeFirst(Map.of("a", 0.5, "b", 0.5), Map.of("a", 0.5, "b", 0.5)))
        .contains(PromotionGate.Reason.BELOW_BASELINE);
    assertThat(gate.judgeFirst(Map.of("a", 0.7, "b", 0.5), Map.of("a", 0.5, "b", 0.5))).isEmpty();
  }
}
