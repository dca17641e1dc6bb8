package dev.retain.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.List;

/**
 * Adam over a fixed list of parameters, updated in place by the engine (pretraining the base). Its
 * moment arrays are created once, in the parameters' own manager, never inside a per-step scope.
 * The learner's adapter, much smaller, is updated on the host ({@link HostAdam}).
 */
public final class Adam {
  private final List<NDArray> params;
  private final NDArray[] m;
  private final NDArray[] v;
  private final float lr;
  private final float beta1 = 0.9f;
  private final float beta2 = 0.999f;
  private final float eps = 1e-8f;
  private int t;

  public Adam(List<NDArray> params, float lr) {
    this.params = List.copyOf(params);
    this.lr = lr;
    m = new NDArray[params.size()];
    v = new NDArray[params.size()];
    for (int i = 0; i < params.size(); i++) {
      NDManager owner = params.get(i).getManager();
      m[i] = owner.zeros(params.get(i).getShape());
      v[i] = owner.zeros(params.get(i).getShape());
    }
  }

  /** Updates taken so far (Adam's bias correction depends on it). */
  public int updates() {
    return t;
  }

  /**
   * One update from the parameters' current autograd gradients, which it then clears. Call outside
   * any gradient collector and inside an {@code NDScope}: the gradient wrappers made here are
   * released when that scope closes.
   */
  public void step() {
    List<NDArray> grads = params.stream().map(NDArray::getGradient).toList();
    if (grads.stream().allMatch(Adam::finite)) {
      step(grads);
    } else {
      skipped++; // a non-finite gradient would poison the weights: this step changes nothing
    }
    // autograd adds gradients up until they are cleared; zeros, as g - g would keep a NaN
    grads.forEach(g -> g.set(new NDIndex("..."), 0f));
  }

  /** Steps skipped for a non-finite gradient. */
  public long skipped() {
    return skipped;
  }

  private static boolean finite(NDArray g) {
    try (NDArray bad = g.isNaN().logicalOr(g.isInfinite());
        NDArray any = bad.any()) {
      return !any.getBoolean();
    }
  }

  /**
   * One update from {@code grads}, one per parameter in order. Outside any gradient collector.
   *
   * <p>Each parameter takes one fused native update (the engine's {@code adamUpdate}: moments and
   * weight in place, with autograd off) instead of a dozen separate array operations. The engine
   * computes {@code w -= lr' m / (sqrt(v) + eps')}; with {@code lr' = lr sqrt(c2) / c1} and {@code
   * eps' = eps sqrt(c2)} that is exactly Adam's {@code lr m^ / (sqrt(v^) + eps)}.
   */
  private long skipped;

  void step(List<NDArray> grads) {
    t++;
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    float stepSize = (float) (lr * Math.sqrt(c2) / c1);
    float scaledEps = (float) (eps * Math.sqrt(c2));
    for (int i = 0; i < params.size(); i++) {
      NDArray w = params.get(i);
      w.getNDArrayInternal()
          .adamUpdate(
              new NDList(w, grads.get(i), m[i], v[i]),
              new NDList(w),
              lr,
              stepSize,
              0f, // weight decay
              1f, // gradient rescale
              -1f, // no clipping
              beta1,
              beta2,
              scaledEps,
              false,
              false);
    }
  }
}
