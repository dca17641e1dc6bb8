package dev.retain.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.retain.model.SafeTensors;
import dev.retain.model.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam over a fixed list of parameters, updated in place. Its moment arrays are created once, in
 * the parameters' own manager, never inside a per-step scope.
 */
public final class Adam {
  private final List<NDArray> params;
  private final NDArray flat; // null, or the one array that holds every parameter
  private final NDArray flatM;
  private final NDArray flatV;
  private final NDArray[] m;
  private final NDArray[] v;
  private final float lr;
  private final float beta1 = 0.9f;
  private final float beta2 = 0.999f;
  private final float eps = 1e-8f;
  private int t;

  public Adam(List<NDArray> params, float lr) {
    this(params, null, lr);
  }

  /**
   * @param flat null, or one array whose storage holds every parameter, in order and nothing else
   *     (each parameter a view of it): the update then runs once over it, with the moments laid out
   *     the same way
   */
  public Adam(List<NDArray> params, NDArray flat, float lr) {
    this.params = List.copyOf(params);
    this.flat = flat;
    this.lr = lr;
    m = new NDArray[params.size()];
    v = new NDArray[params.size()];
    if (flat != null) {
      long total = params.stream().mapToLong(NDArray::size).sum();
      if (total != flat.size()) {
        throw new IllegalArgumentException("parameters hold " + total + " of " + flat.size());
      }
      flatM = flat.getManager().zeros(flat.getShape());
      flatV = flat.getManager().zeros(flat.getShape());
      long offset = 0;
      for (int i = 0; i < params.size(); i++) {
        m[i] = Tensors.view(flatM, offset, params.get(i).getShape());
        v[i] = Tensors.view(flatV, offset, params.get(i).getShape());
        offset += params.get(i).size();
      }
    } else {
      flatM = null;
      flatV = null;
      for (int i = 0; i < params.size(); i++) {
        NDManager owner = params.get(i).getManager();
        m[i] = owner.zeros(params.get(i).getShape());
        v[i] = owner.zeros(params.get(i).getShape());
      }
    }
  }

  /** The moments as tensors named {@code adam.m.i} and {@code adam.v.i}. */
  public Map<String, SafeTensors.Tensor> state() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < m.length; i++) {
      out.put("adam.m." + i, Tensors.of(m[i]));
      out.put("adam.v." + i, Tensors.of(v[i]));
    }
    return out;
  }

  /** Updates taken so far (Adam's bias correction depends on it). */
  public int updates() {
    return t;
  }

  /** Restores what {@link #state()} and {@link #updates()} returned. */
  public void restore(Map<String, SafeTensors.Tensor> state, int updates) {
    for (int i = 0; i < m.length; i++) {
      Tensors.assign(m[i], Tensors.require(state, "adam.m." + i));
      Tensors.assign(v[i], Tensors.require(state, "adam.v." + i));
    }
    t = updates;
  }

  /**
   * One update from the parameters' current autograd gradients, which it then clears. Call outside
   * any gradient collector and inside an {@code NDScope}: the gradient wrappers made here are
   * released when that scope closes.
   */
  public void step() {
    List<NDArray> grads = params.stream().map(NDArray::getGradient).toList();
    step(grads);
    grads.forEach(g -> g.subi(g)); // autograd adds gradients up until they are cleared
  }

  /**
   * One update from {@code grads}, one per parameter in order. Outside any gradient collector.
   *
   * <p>Each parameter takes one fused native update (the engine's {@code adamUpdate}: moments and
   * weight in place, with autograd off) instead of a dozen separate array operations. The engine
   * computes {@code w -= lr' m / (sqrt(v) + eps')}; with {@code lr' = lr sqrt(c2) / c1} and {@code
   * eps' = eps sqrt(c2)} that is exactly Adam's {@code lr m^ / (sqrt(v^) + eps)}.
   */
  public void step(List<NDArray> grads) {
    t++;
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    float stepSize = (float) (lr * Math.sqrt(c2) / c1);
    float scaledEps = (float) (eps * Math.sqrt(c2));
    if (flat != null) {
      NDList flatGrads = new NDList();
      grads.forEach(g -> flatGrads.add(g.reshape(-1)));
      update(flat, NDArrays.concat(flatGrads), flatM, flatV, stepSize, scaledEps);
      return;
    }
    for (int i = 0; i < params.size(); i++) {
      update(params.get(i), grads.get(i), m[i], v[i], stepSize, scaledEps);
    }
  }

  private void update(
      NDArray w, NDArray g, NDArray mean, NDArray variance, float stepSize, float scaledEps) {
    w.getNDArrayInternal()
        .adamUpdate(
            new NDList(w, g, mean, variance),
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
