package dev.retain.train;

import dev.retain.model.SafeTensors;
import java.util.List;
import java.util.Map;

/**
 * Adam over one vector of parameters held on the host: the learner's adapter, a few thousand to a
 * few tens of thousands of values. At that size the arithmetic takes microseconds in Java, while
 * the engine's fused update cost about ten engine calls, each with its own allocation; the learner
 * copies the gradient out and the new values in once per step instead.
 */
final class HostAdam {
  private static final String FIRST_MOMENT = "adam.m."; // checkpoint tensor names
  private static final String SECOND_MOMENT = "adam.v.";

  private static final float BETA1 = 0.9f;
  private static final float BETA2 = 0.999f;
  private static final float EPS = 1e-8f;
  private static final float TINY = 1e-30f;

  private final float[] m;
  private final float[] v;
  private final float lr;
  private int t;

  /**
   * @param size how many parameters the vector holds
   */
  HostAdam(int size, float lr) {
    this.m = new float[size];
    this.v = new float[size];
    this.lr = lr;
  }

  /**
   * One update of {@code values} in place from {@code grads}: textbook Adam, {@code lr m^ /
   * (sqrt(v^) + eps)} with bias-corrected moments, written as {@code lr' m / (sqrt(v) + eps')} with
   * {@code lr' = lr sqrt(c2) / c1} and {@code eps' = eps sqrt(c2)}.
   */
  void step(float[] values, float[] grads) {
    t++;
    double c1 = 1 - Math.pow(BETA1, t);
    double c2 = 1 - Math.pow(BETA2, t);
    float stepSize = (float) (lr * Math.sqrt(c2) / c1);
    float scaledEps = (float) (EPS * Math.sqrt(c2));
    for (int i = 0; i < values.length; i++) {
      float g = flushed(grads[i]);
      m[i] = flushed(BETA1 * m[i] + (1 - BETA1) * g);
      v[i] = flushed(BETA2 * v[i] + (1 - BETA2) * g * g);
      values[i] -= stepSize * m[i] / ((float) Math.sqrt(v[i]) + scaledEps);
    }
  }

  /**
   * Zero for a value too small to matter (below 1e-30), before it decays into the subnormal range,
   * where arithmetic takes a slow path in the CPU: the moments of parameters whose gradient stays
   * near zero (a unit that never fires) get there within a few thousand steps.
   */
  private static float flushed(float moment) {
    return Math.abs(moment) < TINY ? 0f : moment;
  }

  /** Updates taken so far (the bias correction depends on it). */
  int updates() {
    return t;
  }

  /**
   * The moments per parameter, as tensors named {@code adam.m.i} and {@code adam.v.i}, {@code
   * shapes} giving each parameter's shape in the vector's order.
   */
  Map<String, SafeTensors.Tensor> state(List<long[]> shapes) {
    Map<String, SafeTensors.Tensor> out = Vectors.split(FIRST_MOMENT, m, shapes);
    out.putAll(Vectors.split(SECOND_MOMENT, v, shapes));
    return out;
  }

  /** Restores what {@link #state} and {@link #updates()} returned. */
  void restore(Map<String, SafeTensors.Tensor> state, List<long[]> shapes, int updates) {
    Vectors.join(state, FIRST_MOMENT, shapes, m);
    Vectors.join(state, SECOND_MOMENT, shapes, v);
    t = updates;
  }
}
