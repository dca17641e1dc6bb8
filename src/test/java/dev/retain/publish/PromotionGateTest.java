package dev.retain.publish;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class PromotionGateTest {
  private final PromotionGate gate = new PromotionGate(0.01);

  @Test
  void shouldPromoteWhenNoDomainDropsMoreThanEpsilonAndTheAverageHolds() {
    assertThat(gate.judge(Map.of("a", 0.895, "b", 0.92), Map.of("a", 0.9, "b", 0.9))).isEmpty();
  }

  @Test
  void shouldRejectWhenOneDomainDropsMoreThanEpsilon() {
    assertThat(gate.judge(Map.of("a", 0.88, "b", 0.99), Map.of("a", 0.9, "b", 0.9)))
        .contains(PromotionGate.Reason.DOMAIN_DROP);
  }

  @Test
  void shouldRejectWhenTheAverageIsLowerEvenWithinEpsilon() {
    assertThat(gate.judge(Map.of("a", 0.895, "b", 0.9), Map.of("a", 0.9, "b", 0.9)))
        .contains(PromotionGate.Reason.AVERAGE_DROP);
  }

  @Test
  void shouldJudgeOnlyDomainsBothWereEvaluatedOn() {
    assertThat(gate.judge(Map.of("a", 0.9, "new", 0.3), Map.of("a", 0.9))).isEmpty();
  }
}
