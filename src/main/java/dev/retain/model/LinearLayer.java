package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.core.Linear;

/**
 * One Linear layer with LoRA: {@code y = x W^T + b + s (x A^T) B^T}. W and b are frozen; A and B
 * train. {@code aT} and {@code bT} are transposed views of A and B made once (they follow every
 * in-place change): see {@link LinearPass}.
 */
final class LinearLayer {
  final NDArray weight;
  final NDArray bias;
  final NDArray loraA;
  final NDArray loraB;
  final NDArray loraAT;
  final NDArray loraBT;

  LinearLayer(NDArray weight, NDArray bias, NDArray loraA, NDArray loraB) {
    this.weight = weight;
    this.bias = bias;
    this.loraA = loraA;
    this.loraB = loraB;
    this.loraAT = loraA.transpose();
    this.loraBT = loraB.transpose();
  }

  /** The frozen part: {@code h W^T + b}. */
  NDArray base(NDArray h) {
    return Linear.linear(h, weight, bias).singletonOrThrow();
  }

  /** {@code s (h A^T)}: the low-rank activations. */
  NDArray lowRank(NDArray h, NDArray scale) {
    return Linear.linear(h, loraA).singletonOrThrow().mul(scale);
  }

  /** The output {@code base + u B^T}. */
  NDArray addLowRank(NDArray u, NDArray base) {
    return addmm(base, u, loraB);
  }

  /**
   * {@code c + a b^T} in one engine call: torch's linear takes any bias that broadcasts to the
   * output, a whole matrix too, and runs addmm.
   */
  static NDArray addmm(NDArray c, NDArray a, NDArray b) {
    return Linear.linear(a, b, c).singletonOrThrow();
  }
}
