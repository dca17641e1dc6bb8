package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.retain.model.Tensors;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Both updates must be textbook Adam, bias correction and epsilon included. */
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
   * The learner's host update must equal the engine's, and its moments must survive a checkpoint
   * laid out per parameter.
   */
  @Test
  void shouldUpdateOnTheHostAsTheEngineDoesAndRestoreItsMoments() {
    try (NDManager manager = NDManager.newBaseManager()) {
      Engine.getInstance().setRandomSeed(2);
      NDArray a = manager.randomNormal(new Shape(2, 3));
      NDArray b = manager.randomNormal(new Shape(4, 2));
      List<long[]> shapes = List.of(a.getShape().getShape(), b.getShape().getShape());
      float[] values = Tensors.floats(List.of(a, b));
      float[] start = values.clone();
      Adam engine = new Adam(List.of(a, b), 0.01f);
      HostAdam host = new HostAdam(14, 0.01f);
      for (int t = 0; t < 3; t++) {
        NDArray ga = manager.randomNormal(a.getShape());
        NDArray gb = manager.randomNormal(b.getShape()).transpose().transpose(); // any layout
        engine.step(List.of(ga, gb));
        host.step(values, Tensors.floats(List.of(ga, gb)));
      }
      assertThat(values).containsExactly(Tensors.floats(List.of(a, b)), within(1e-6f));
      assertThat(values).isNotEqualTo(start);

      HostAdam restored = new HostAdam(14, 0.01f);
      restored.restore(host.state(shapes), shapes, host.updates());
      float[] copy = values.clone();
      float[] grads = Tensors.floats(List.of(manager.randomNormal(new Shape(14))));
      host.step(values, grads);
      restored.step(copy, grads);
      assertThat(copy).containsExactly(values);
      assertThat(restored.updates()).isEqualTo(4);
    }
  }
}
