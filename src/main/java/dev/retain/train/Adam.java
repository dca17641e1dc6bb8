package dev.retain.train;

import ai.djl.ndarray.NDArray;
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
   * One update from the parameters' current gradients, which it then clears. Call outside any
   * gradient collector and inside an {@code NDScope}: the gradient wrappers and scratch arrays made
   * here are released when that scope closes.
   */
  public void step() {
    t++;
    float c1 = 1 - (float) Math.pow(beta1, t);
    float c2 = 1 - (float) Math.pow(beta2, t);
    for (int i = 0; i < params.size(); i++) {
      NDArray g = params.get(i).getGradient();
      m[i].muli(beta1).addi(g.mul(1 - beta1));
      v[i].muli(beta2).addi(g.square().mul(1 - beta2));
      NDArray update = m[i].div(c1).div(v[i].div(c2).sqrt().add(eps)).mul(lr);
      // through a detached view that shares the storage: autograd refuses in-place changes of a
      // leaf while grad mode is on, and grad mode is per thread (on by default in a new thread)
      try (NDArray view = params.get(i).stopGradient()) {
        view.subi(update);
      }
      g.subi(g); // gradients accumulate until cleared
    }
  }
}
