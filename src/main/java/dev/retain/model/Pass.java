package dev.retain.model;

import ai.djl.ndarray.NDArray;
import java.util.List;

/** A forward pass kept for its backward pass; see {@link LoraNet#pass}. Close it when done. */
public interface Pass extends AutoCloseable {
  /** Logits (n, classes). */
  NDArray logits();

  /**
   * The first layer's frozen output {@code x W^T + b} for every row (n, width), for caching; only
   * where {@link LoraNet#hasFrozenFirstLayer()}.
   */
  NDArray frozenFirstLayer();

  /**
   * The gradient of the loss with respect to each adapter parameter, in the order of {@link
   * LoraNet#adapterParameters()}, given {@code gradLogits}, its gradient with respect to the
   * logits. Call at most once.
   */
  List<NDArray> backward(NDArray gradLogits);

  /**
   * The same gradients as one host vector, laid out as {@link LoraNet#adapterVector()}: what the
   * learner's host-side update takes. Call at most once, instead of {@link #backward}.
   */
  default float[] backwardVector(NDArray gradLogits) {
    return Tensors.floats(backward(gradLogits));
  }

  @Override
  void close();
}
