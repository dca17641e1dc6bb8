package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.pooling.Pool;
import java.util.List;
import java.util.Map;

/**
 * A CNN base's convolutions (each 3x3 with padding 1, then ReLU and 2x2 max pooling) with optional
 * LoRA, as PEFT does it for Conv2d: {@code y = conv(x, W) + b + s conv(conv(x, A), B)}, A a 3x3
 * convolution to r channels and B a 1x1 one back. Empty for an MLP.
 */
final class ConvStack {
  private static final Shape ONE = new Shape(1, 1);
  private static final Shape PAD_SAME = new Shape(1, 1);
  private static final Shape NO_PAD = new Shape(0, 0);
  private static final Shape POOL = new Shape(2, 2);

  private final int side;
  private final NDArray[] weights;
  private final NDArray[] biases;
  private final NDArray[] loraA; // empty without conv LoRA
  private final NDArray[] loraB;

  /** He-initialised convolutions of {@code arch}, with a fresh adapter when {@code lora}. */
  ConvStack(NDManager m, Architecture arch, int rank, boolean lora) {
    int[] channels = arch.channels();
    side = arch.side();
    weights = new NDArray[channels.length];
    biases = new NDArray[channels.length];
    loraA = new NDArray[lora ? channels.length : 0];
    loraB = new NDArray[lora ? channels.length : 0];
    for (int c = 0; c < channels.length; c++) {
      init(m, c, c == 0 ? 1 : channels[c - 1], channels[c], rank);
    }
  }

  private void init(NDManager m, int c, int in, int out, int rank) {
    weights[c] = normal(m, Math.sqrt(2.0 / (in * 9)), new Shape(out, in, 3, 3));
    biases[c] = m.zeros(new Shape(out));
    if (loraA.length > 0) {
      loraA[c] = normal(m, 1.0 / (in * 9), new Shape(rank, in, 3, 3));
      loraB[c] = m.zeros(new Shape(out, rank, 1, 1));
    }
  }

  static NDArray normal(NDManager m, double std, Shape shape) {
    return m.randomNormal(0f, (float) std, shape, DataType.FLOAT32);
  }

  boolean isEmpty() {
    return weights.length == 0;
  }

  /** The flattened output (n, features of the first Linear layer) for a batch {@code x}. */
  NDArray forward(NDArray x, NDArray scale) {
    if (isEmpty()) {
      return x;
    }
    long n = x.getShape().get(0);
    // a copy in memory the engine allocated: the CPU convolution kernels returned NaN for an
    // input that wraps a direct buffer (as the learner's batches do), on an AMD EPYC
    NDArray h = x.reshape(n, 1, side, side).duplicate();
    for (int c = 0; c < weights.length; c++) {
      h = Pool.maxPool2d(layer(c, h, scale).getNDArrayInternal().relu(), POOL, POOL, NO_PAD, false);
    }
    return h.reshape(n, -1);
  }

  /** Convolution {@code c} of {@code h}, with its LoRA when there is one. */
  private NDArray layer(int c, NDArray h, NDArray scale) {
    NDArray y = conv(h, weights[c], biases[c], PAD_SAME);
    if (loraA.length == 0) {
      return y;
    }
    return y.add(conv(conv(h, loraA[c], null, PAD_SAME), loraB[c], null, NO_PAD).mul(scale));
  }

  private static NDArray conv(NDArray x, NDArray w, NDArray b, Shape padding) {
    return Conv2d.conv2d(x, w, b, ONE, padding, ONE, 1).singletonOrThrow();
  }

  void baseTensors(Map<String, SafeTensors.Tensor> out) {
    for (int c = 0; c < weights.length; c++) {
      out.put(TensorNames.weight(TensorNames.conv(c)), Tensors.of(weights[c]));
      out.put(TensorNames.bias(TensorNames.conv(c)), Tensors.of(biases[c]));
    }
  }

  void adapterTensors(Map<String, SafeTensors.Tensor> out) {
    for (int c = 0; c < loraA.length; c++) {
      out.put(TensorNames.loraA(TensorNames.conv(c)), Tensors.of(loraA[c]));
      out.put(TensorNames.loraB(TensorNames.conv(c)), Tensors.of(loraB[c]));
    }
  }

  void loadBase(Map<String, SafeTensors.Tensor> tensors) {
    for (int c = 0; c < weights.length; c++) {
      String module = TensorNames.conv(c);
      Tensors.assign(weights[c], Tensors.require(tensors, TensorNames.weight(module)));
      Tensors.assign(biases[c], Tensors.require(tensors, TensorNames.bias(module)));
    }
  }

  void loadAdapter(Map<String, SafeTensors.Tensor> tensors) {
    for (int c = 0; c < loraA.length; c++) {
      String module = TensorNames.conv(c);
      Tensors.assign(loraA[c], Tensors.require(tensors, TensorNames.loraA(module)));
      Tensors.assign(loraB[c], Tensors.require(tensors, TensorNames.loraB(module)));
    }
  }

  /** A then B per convolution. */
  void adapterParameters(List<NDArray> out) {
    interleave(loraA, loraB, out);
  }

  /** W then b per convolution. */
  void baseParameters(List<NDArray> out) {
    interleave(weights, biases, out);
  }

  static void interleave(NDArray[] first, NDArray[] second, List<NDArray> out) {
    for (int l = 0; l < first.length; l++) {
      out.add(first[l]);
      out.add(second[l]);
    }
  }
}
