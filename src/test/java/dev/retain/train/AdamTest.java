package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fused native update must be textbook Adam, bias correction and epsilon included. */
class AdamTest {
  @Test
  void shouldFollowTheAdamFormulaAndClearGradients() {
    float lr = 0.1f;
    float[] w = {0.5f, -1.0f, 2.0f};
    float[] c = {0.3f, -2.0f, 1e-6f}; // loss = sum(c * w^2): gradient 2 c w
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray param = manager.create(w.clone());
      param.setRequiresGradient(true);
      NDArray coefficients = manager.create(c);
      Adam adam = new Adam(List.of(param), lr);
      double[] m = new double[3];
      double[] v = new double[3];
      double[] expected = {w[0], w[1], w[2]};
      for (int t = 1; t <= 3; t++) {
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(param.square().mul(coefficients).sum());
          }
          adam.step();
        }
        for (int i = 0; i < 3; i++) {
          double g = 2 * c[i] * expected[i];
          m[i] = 0.9 * m[i] + 0.1 * g;
          v[i] = 0.999 * v[i] + 0.001 * g * g;
          double mHat = m[i] / (1 - Math.pow(0.9, t));
          double vHat = v[i] / (1 - Math.pow(0.999, t));
          expected[i] -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
        }
        float[] actual = param.toFloatArray();
        for (int i = 0; i < 3; i++) {
          assertThat((double) actual[i])
              .as("step %d, w%d", t, i)
              .isCloseTo(expected[i], within(1e-6));
        }
        assertThat(param.getGradient().toFloatArray()).containsOnly(0f);
      }
      assertThat(adam.updates()).isEqualTo(3);
    }
  }

  /**
   * Over one flat array whose views are the parameters, the single update must equal one update per
   * parameter, and the moments must read per parameter (the checkpoint's layout).
   */
  @Test
  void shouldUpdateAFlatArrayOfViewsAsItUpdatesSeparateParameters() {
    try (NDManager manager = NDManager.newBaseManager()) {
      Engine.getInstance().setRandomSeed(2);
      NDArray a0 = manager.randomNormal(new ai.djl.ndarray.types.Shape(2, 3));
      NDArray b0 = manager.randomNormal(new ai.djl.ndarray.types.Shape(4, 2));
      NDArray flat = manager.zeros(new ai.djl.ndarray.types.Shape(14));
      NDArray a = dev.retain.model.Tensors.view(flat, 0, a0.getShape());
      NDArray b = dev.retain.model.Tensors.view(flat, 6, b0.getShape());
      a.set(new ai.djl.ndarray.index.NDIndex("..."), a0);
      b.set(new ai.djl.ndarray.index.NDIndex("..."), b0);
      NDArray sa = a0.duplicate();
      NDArray sb = b0.duplicate();
      Adam viewed = new Adam(List.of(a, b), flat, 0.01f);
      Adam separate = new Adam(List.of(sa, sb), 0.01f);
      for (int t = 0; t < 3; t++) {
        NDArray ga = manager.randomNormal(a.getShape());
        NDArray gb = manager.randomNormal(b.getShape()).transpose().transpose(); // any layout
        viewed.step(List.of(ga, gb));
        separate.step(List.of(ga, gb));
      }
      assertThat(a.toFloatArray()).containsExactly(sa.toFloatArray(), within(1e-7f));
      assertThat(b.toFloatArray()).containsExactly(sb.toFloatArray(), within(1e-7f));
      assertThat(a.toFloatArray()).isNotEqualTo(a0.toFloatArray());
      viewed
          .state()
          .forEach(
              (k, tensor) ->
                  assertThat(tensor.data())
                      .as(k)
                      .containsExactly(separate.state().get(k).data(), within(1e-7f)));
    }
  }
}
