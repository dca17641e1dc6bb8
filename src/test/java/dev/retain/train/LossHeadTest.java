package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LossHeadTest {
  private static final float[] LOGITS = {2f, 1f, 0.5f, -1f, 0f, 3f, 1f, 1f, 0.2f, 0.1f, 0.3f, 4f};
  private static final float[][] NO_TARGETS = new float[3][];

  @Test
  void shouldLeaveTheClassesAbsentFromTheNewRowsOutOfTheirSoftmax() {
    // rows 0 and 1 are new, with classes 0 and 1; row 2 is replayed, class 3
    int[] labels = {0, 1, 3};
    LossHead.Result ace = LossHead.evaluate(LOGITS, 4, labels, NO_TARGETS, 0f, 2);
    for (int row = 0; row < 2; row++) {
      assertThat(ace.gradient()[row * 4 + 2]).as("class 2, new row %d", row).isZero();
      assertThat(ace.gradient()[row * 4 + 3]).as("class 3, new row %d", row).isZero();
    }
    LossHead.Result full = LossHead.evaluate(LOGITS, 4, labels, NO_TARGETS, 0f);
    for (int c = 0; c < 4; c++) {
      assertThat(ace.gradient()[8 + c])
          .as("the replayed row keeps its full softmax")
          .isEqualTo(full.gradient()[8 + c]);
    }
    // two-class softmax of row 0: p(0) = 1 / (1 + e^-1)
    double p0 = 1 / (1 + Math.exp(-1));
    assertThat((double) ace.gradient()[0])
        .isCloseTo((p0 - 1) / 3, org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void shouldChangeNothingWhenEveryClassIsPresentAmongTheNewRows() {
    float[] logits = new float[16];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (i * 7 % 5) - 2f;
    }
    int[] labels = {0, 1, 2, 3};
    LossHead.Result ace = LossHead.evaluate(logits, 4, labels, new float[4][], 0f, 4);
    LossHead.Result full = LossHead.evaluate(logits, 4, labels, new float[4][], 0f);
    assertThat(ace.loss()).isEqualTo(full.loss());
    assertThat(ace.gradient()).isEqualTo(full.gradient());
  }
}
