package dev.retain.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A pass through autograd (a convolutional base). The caller's loss gradient enters as the constant
 * weights of a surrogate {@code sum(logits * G)}, whose gradient is exactly G.
 */
final class AutogradPass implements Pass {
  private static final NDIndex EVERYTHING = new NDIndex("...");
  private final List<NDArray> parameters;
  private final GradientCollector collector;
  private final NDArray logits;
  private boolean collecting = true;

  AutogradPass(List<NDArray> parameters, UnaryOperator<NDArray> forward, NDArray x) {
    this.parameters = parameters;
    collector = Engine.getInstance().newGradientCollector();
    try {
      logits = forward.apply(x);
    } catch (RuntimeException e) {
      collector.close();
      throw e;
    }
  }

  @Override
  public NDArray logits() {
    return logits;
  }

  @Override
  public NDArray frozenFirstLayer() {
    throw new UnsupportedOperationException("a convolutional base has no frozen first layer");
  }

  @Override
  public List<NDArray> backward(NDArray gradLogits) {
    collector.backward(logits.mul(gradLogits).sum());
    stopCollecting(); // the optimizer updates the parameters in place, outside autograd
    List<NDArray> grads = new ArrayList<>();
    parameters.forEach(p -> grads.add(p.getGradient()));
    return grads;
  }

  private void stopCollecting() {
    if (collecting) {
      collecting = false;
      collector.close();
    }
  }

  /**
   * Clears the gradients, which autograd otherwise adds up across passes, by filling them with
   * zeros: a NaN once there (a diverged pass, or the CPU convolution kernels' occasional
   * uninitialised values on some x86 CPUs) would survive {@code g - g} into every later pass. The
   * learner skips any step whose gradient is not finite.
   */
  @Override
  public void close() {
    stopCollecting();
    parameters.forEach(p -> p.getGradient().set(EVERYTHING, 0f));
  }
}
