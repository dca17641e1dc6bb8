package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An MLP base (Linear layers with ReLU between them) with a LoRA adapter on every Linear layer:
 * {@code y = x W^T + b + s (x A^T) B^T}, with A small random, B zero (a fresh adapter changes
 * nothing) and scaling s = alpha / r (or alpha / sqrt(r) with rsLoRA). The base is frozen; only A
 * and B train. All parameters live in the model's own manager, which the model owns and closes.
 */
public final class LoraMlp implements AutoCloseable {
  private final NDManager manager;
  private final int[] sizes;
  private final int rank;
  private final float alpha;
  private final float scaling;
  private final NDArray[] weights;
  private final NDArray[] biases;
  private final NDArray[] loraA;
  private final NDArray[] loraB;

  private LoraMlp(NDManager manager, int[] sizes, int rank, float alpha, boolean rsLora) {
    this.manager = manager;
    this.sizes = sizes.clone();
    this.rank = rank;
    this.alpha = alpha;
    this.scaling = rsLora ? alpha / (float) Math.sqrt(rank) : alpha / rank;
    int layers = sizes.length - 1;
    weights = new NDArray[layers];
    biases = new NDArray[layers];
    loraA = new NDArray[layers];
    loraB = new NDArray[layers];
  }

  /**
   * A base with He-initialised weights and a fresh adapter. The base is random until trained with
   * {@link #baseParameters()} (pretraining); seed the engine for reproducible weights.
   */
  public static LoraMlp create(
      NDManager parent, int[] sizes, int rank, float alpha, boolean rsLora) {
    if (sizes.length < 2 || rank < 1) {
      throw new IllegalArgumentException("need at least 2 layer sizes and rank >= 1");
    }
    LoraMlp model = new LoraMlp(parent.newSubManager(), sizes, rank, alpha, rsLora);
    NDManager m = model.manager;
    for (int l = 0; l < sizes.length - 1; l++) {
      int in = sizes[l];
      int out = sizes[l + 1];
      model.weights[l] =
          m.randomNormal(
              0f,
              (float) Math.sqrt(2.0 / in),
              new Shape(out, in),
              ai.djl.ndarray.types.DataType.FLOAT32);
      model.biases[l] = m.zeros(new Shape(out));
      model.loraA[l] =
          m.randomNormal(0f, 1f / in, new Shape(rank, in), ai.djl.ndarray.types.DataType.FLOAT32);
      model.loraB[l] = m.zeros(new Shape(out, rank));
    }
    model.adapterParameters().forEach(p -> p.setRequiresGradient(true));
    return model;
  }

  /** Logits for a batch {@code x} of shape (n, inputs); intermediates go to x's manager. */
  public NDArray forward(NDArray x) {
    NDArray h = x;
    for (int l = 0; l < weights.length; l++) {
      NDArray base = h.matMul(weights[l].transpose()).add(biases[l]);
      NDArray lora = h.matMul(loraA[l].transpose()).matMul(loraB[l].transpose()).mul(scaling);
      h = base.add(lora);
      if (l < weights.length - 1) {
        h = h.getNDArrayInternal().relu();
      }
    }
    return h;
  }

  /**
   * The base weights by name ({@code layers.L.weight} of shape (out, in), {@code layers.L.bias}),
   * as {@code retain pretrain} writes them.
   */
  public Map<String, SafeTensors.Tensor> baseTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (int l = 0; l < weights.length; l++) {
      out.put(module(l) + ".weight", Tensors.of(weights[l]));
      out.put(module(l) + ".bias", Tensors.of(biases[l]));
    }
    return out;
  }

  /**
   * The adapter under the names PEFT uses ({@code base_model.model.layers.L.lora_A.weight} of shape
   * (r, in) and {@code ...lora_B.weight} of shape (out, r)).
   */
  public Map<String, SafeTensors.Tensor> adapterTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    for (int l = 0; l < loraA.length; l++) {
      out.put(peftKey(l, "A"), Tensors.of(loraA[l]));
      out.put(peftKey(l, "B"), Tensors.of(loraB[l]));
    }
    return out;
  }

  /** Replaces the base weights in place; every tensor must be present with its shape. */
  public void loadBase(Map<String, SafeTensors.Tensor> tensors) {
    for (int l = 0; l < weights.length; l++) {
      Tensors.assign(weights[l], Tensors.require(tensors, module(l) + ".weight"));
      Tensors.assign(biases[l], Tensors.require(tensors, module(l) + ".bias"));
    }
  }

  /** Replaces the adapter in place; every tensor must be present with its shape. */
  public void loadAdapter(Map<String, SafeTensors.Tensor> tensors) {
    for (int l = 0; l < loraA.length; l++) {
      Tensors.assign(loraA[l], Tensors.require(tensors, peftKey(l, "A")));
      Tensors.assign(loraB[l], Tensors.require(tensors, peftKey(l, "B")));
    }
  }

  /** The PEFT {@code target_modules}: one name per Linear layer. */
  public List<String> targetModules() {
    List<String> out = new ArrayList<>();
    for (int l = 0; l < weights.length; l++) {
      out.add(module(l));
    }
    return out;
  }

  /** The base's identity: SHA-256 of its safetensors encoding, in hex. */
  public String baseHash() {
    return Tensors.sha256(SafeTensors.write(baseTensors(), Map.of()));
  }

  private static String module(int layer) {
    return "layers." + layer;
  }

  private static String peftKey(int layer, String ab) {
    return "base_model.model." + module(layer) + ".lora_" + ab + ".weight";
  }

  /** The trainable LoRA parameters, A then B per layer. */
  public List<NDArray> adapterParameters() {
    return interleave(loraA, loraB);
  }

  /** The base parameters, W then b per layer; frozen except while pretraining. */
  public List<NDArray> baseParameters() {
    return interleave(weights, biases);
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

  public int[] sizes() {
    return sizes.clone();
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
