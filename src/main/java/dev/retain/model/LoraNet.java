package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A frozen base (see {@link Architecture}: an MLP, or a small CNN) with LoRA adapters. Every Linear
 * layer gets {@code y = x W^T + b + s (x A^T) B^T}; with conv LoRA, every convolution gets {@code y
 * = conv(x, W) + b + s conv(conv(x, A), B)}, A a 3x3 convolution to r channels and B a 1x1 one
 * back, as PEFT does for Conv2d. A is small random and B zero, so a fresh adapter changes nothing;
 * scaling s = alpha / r (or alpha / sqrt(r) with rsLoRA). Only A and B train. All parameters live
 * in the model's own manager, which the model owns and closes.
 */
public final class LoraNet implements AutoCloseable {
  private static final Shape ONE = new Shape(1, 1);
  private static final Shape PAD_SAME = new Shape(1, 1);
  private static final Shape NO_PAD = new Shape(0, 0);
  private static final Shape POOL = new Shape(2, 2);

  private final NDManager manager;
  private final Architecture arch;
  private final int rank;
  private final float alpha;
  private final float scaling;

  /**
   * The scaling as an array that lives as long as the model. Never multiply by a Java number in a
   * graph that is trained: the engine's {@code mul(Number)} wraps the number in a zero-copy array
   * over a direct buffer and closes it at once, while autograd keeps that array for the backward
   * pass; a garbage collection in between frees the buffer, and the backward pass then reads
   * whatever reuses the memory (it corrupted the adapter at random, at a GC).
   */
  private final NDArray scale;

  private final NDArray[] convWeights;
  private final NDArray[] convBiases;
  private final NDArray[] convA; // empty without conv LoRA
  private final NDArray[] convB;
  private final NDArray[] weights;
  private final NDArray[] biases;
  private final NDArray[] loraA;
  private final NDArray[] loraB;

  private LoraNet(
      NDManager manager,
      Architecture arch,
      int rank,
      float alpha,
      boolean rsLora,
      boolean loraConv) {
    this.manager = manager;
    this.arch = arch;
    this.rank = rank;
    this.alpha = alpha;
    this.scaling = rsLora ? alpha / (float) Math.sqrt(rank) : alpha / rank;
    this.scale = manager.create(scaling);
    int convs = arch.channels().length;
    convWeights = new NDArray[convs];
    convBiases = new NDArray[convs];
    convA = new NDArray[loraConv ? convs : 0];
    convB = new NDArray[loraConv ? convs : 0];
    int layers = arch.sizes().length - 1;
    weights = new NDArray[layers];
    biases = new NDArray[layers];
    loraA = new NDArray[layers];
    loraB = new NDArray[layers];
  }

  /** An MLP base of {@code sizes} with LoRA on every Linear layer; see {@link #create}. */
  public static LoraNet create(
      NDManager parent, int[] sizes, int rank, float alpha, boolean rsLora) {
    return create(parent, Architecture.mlp(sizes), rank, alpha, rsLora, false);
  }

  /**
   * A base with He-initialised weights and a fresh adapter (on the convolutions too when {@code
   * loraConv}). The base is random until trained through {@link #baseParameters()} (pretraining);
   * seed the engine for reproducible weights.
   */
  public static LoraNet create(
      NDManager parent,
      Architecture arch,
      int rank,
      float alpha,
      boolean rsLora,
      boolean loraConv) {
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1");
    }
    LoraNet model = new LoraNet(parent.newSubManager(), arch, rank, alpha, rsLora, loraConv);
    NDManager m = model.manager;
    int[] channels = arch.channels();
    for (int c = 0; c < channels.length; c++) {
      int in = c == 0 ? 1 : channels[c - 1];
      int out = channels[c];
      model.convWeights[c] = normal(m, Math.sqrt(2.0 / (in * 9)), new Shape(out, in, 3, 3));
      model.convBiases[c] = m.zeros(new Shape(out));
      if (loraConv) {
        model.convA[c] = normal(m, 1.0 / (in * 9), new Shape(rank, in, 3, 3));
        model.convB[c] = m.zeros(new Shape(out, rank, 1, 1));
      }
    }
    int[] sizes = arch.sizes();
    for (int l = 0; l < sizes.length - 1; l++) {
      int in = sizes[l];
      int out = sizes[l + 1];
      model.weights[l] = normal(m, Math.sqrt(2.0 / in), new Shape(out, in));
      model.biases[l] = m.zeros(new Shape(out));
      model.loraA[l] = normal(m, 1.0 / in, new Shape(rank, in));
      model.loraB[l] = m.zeros(new Shape(out, rank));
    }
    model.adapterParameters().forEach(p -> p.setRequiresGradient(true));
    return model;
  }

  private static NDArray normal(NDManager m, double std, Shape shape) {
    return m.randomNormal(0f, (float) std, shape, DataType.FLOAT32);
  }

  /** Logits for a batch {@code x} of shape (n, features); intermediates go to x's manager. */
  public NDArray forward(NDArray x) {
    NDArray h = x;
    if (arch.convolutional()) {
      long n = x.getShape().get(0);
      h = h.reshape(n, 1, arch.side(), arch.side());
      for (int c = 0; c < convWeights.length; c++) {
        NDArray y = conv(h, convWeights[c], convBiases[c], PAD_SAME);
        if (convA.length > 0) {
          y = y.add(conv(conv(h, convA[c], null, PAD_SAME), convB[c], null, NO_PAD).mul(scale));
        }
        h = Pool.maxPool2d(y.getNDArrayInternal().relu(), POOL, POOL, NO_PAD, false);
      }
      h = h.reshape(n, -1);
    }
    for (int l = 0; l < weights.length; l++) {
      // torch's linear (x W^T + b in one op) keeps the per-step operation count low
      NDArray base = Linear.linear(h, weights[l], biases[l]).singletonOrThrow();
      NDArray lora =
          Linear.linear(Linear.linear(h, loraA[l]).singletonOrThrow(), loraB[l]).singletonOrThrow();
      h = base.add(lora.mul(scale));
      if (l < weights.length - 1) {
        h = h.getNDArrayInternal().relu();
      }
    }
    return h;
  }

  private static NDArray conv(NDArray x, NDArray w, NDArray b, Shape padding) {
    return Conv2d.conv2d(x, w, b, ONE, padding, ONE, 1).singletonOrThrow();
  }

  /**
   * The base weights by name, as {@code retain pretrain} writes them: {@code convs.C.weight} (out,
   * in, 3, 3) and {@code convs.C.bias} for convolutions, {@code layers.L.weight} (out, in) and
   * {@code layers.L.bias} for Linear layers.
   */
  public Map<String, SafeTensors.Tensor> baseTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (int c = 0; c < convWeights.length; c++) {
      out.put(conv(c) + ".weight", Tensors.of(convWeights[c]));
      out.put(conv(c) + ".bias", Tensors.of(convBiases[c]));
    }
    for (int l = 0; l < weights.length; l++) {
      out.put(linear(l) + ".weight", Tensors.of(weights[l]));
      out.put(linear(l) + ".bias", Tensors.of(biases[l]));
    }
    return out;
  }

  /**
   * The adapter under the names PEFT uses: {@code base_model.model.layers.L.lora_A.weight} (r, in)
   * and {@code ...lora_B.weight} (out, r); for convolutions {@code base_model.model.convs.C.lora_A
   * .weight} (r, in, 3, 3) and {@code ...lora_B.weight} (out, r, 1, 1).
   */
  public Map<String, SafeTensors.Tensor> adapterTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (int c = 0; c < convA.length; c++) {
      out.put(peftKey(conv(c), "A"), Tensors.of(convA[c]));
      out.put(peftKey(conv(c), "B"), Tensors.of(convB[c]));
    }
    for (int l = 0; l < loraA.length; l++) {
      out.put(peftKey(linear(l), "A"), Tensors.of(loraA[l]));
      out.put(peftKey(linear(l), "B"), Tensors.of(loraB[l]));
    }
    return out;
  }

  /** Replaces the base weights in place; every tensor must be present with its shape. */
  public void loadBase(Map<String, SafeTensors.Tensor> tensors) {
    for (int c = 0; c < convWeights.length; c++) {
      Tensors.assign(convWeights[c], Tensors.require(tensors, conv(c) + ".weight"));
      Tensors.assign(convBiases[c], Tensors.require(tensors, conv(c) + ".bias"));
    }
    for (int l = 0; l < weights.length; l++) {
      Tensors.assign(weights[l], Tensors.require(tensors, linear(l) + ".weight"));
      Tensors.assign(biases[l], Tensors.require(tensors, linear(l) + ".bias"));
    }
  }

  /** Replaces the adapter in place; every tensor must be present with its shape. */
  public void loadAdapter(Map<String, SafeTensors.Tensor> tensors) {
    for (int c = 0; c < convA.length; c++) {
      Tensors.assign(convA[c], Tensors.require(tensors, peftKey(conv(c), "A")));
      Tensors.assign(convB[c], Tensors.require(tensors, peftKey(conv(c), "B")));
    }
    for (int l = 0; l < loraA.length; l++) {
      Tensors.assign(loraA[l], Tensors.require(tensors, peftKey(linear(l), "A")));
      Tensors.assign(loraB[l], Tensors.require(tensors, peftKey(linear(l), "B")));
    }
  }

  /** The base's identity: SHA-256 of its safetensors encoding, in hex. */
  public String baseHash() {
    return Tensors.sha256(SafeTensors.write(baseTensors(), Map.of()));
  }

  private static String conv(int c) {
    return "convs." + c;
  }

  private static String linear(int layer) {
    return "layers." + layer;
  }

  private static String peftKey(String module, String ab) {
    return "base_model.model." + module + ".lora_" + ab + ".weight";
  }

  /** The trainable LoRA parameters: A then B per adapted layer, convolutions first. */
  public List<NDArray> adapterParameters() {
    List<NDArray> out = interleave(convA, convB);
    out.addAll(interleave(loraA, loraB));
    return out;
  }

  /** The base parameters, W then b per layer, convolutions first; frozen except in pretraining. */
  public List<NDArray> baseParameters() {
    List<NDArray> out = interleave(convWeights, convBiases);
    out.addAll(interleave(weights, biases));
    return out;
  }

  private static List<NDArray> interleave(NDArray[] first, NDArray[] second) {
    List<NDArray> out = new ArrayList<>();
    for (int l = 0; l < first.length; l++) {
      out.add(first[l]);
      out.add(second[l]);
    }
    return out;
  }

  public NDManager manager() {
    return manager;
  }

  public Architecture architecture() {
    return arch;
  }

  /** Inputs per example. */
  public int features() {
    return arch.features();
  }

  public int rank() {
    return rank;
  }

  public float alpha() {
    return alpha;
  }

  @Override
  public void close() {
    manager.close();
  }
}
