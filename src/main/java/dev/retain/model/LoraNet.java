package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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
  private static final NDIndex EVERYTHING = new NDIndex("...");

  private final NDManager manager;
  private final Architecture arch;
  private final int rank;
  private final float alpha;

  /**
   * The scaling as an array that lives as long as the model. Never multiply by a Java number in a
   * graph that is trained: the engine's {@code mul(Number)} wraps the number in a zero-copy array
   * over a direct buffer and closes it at once, while autograd keeps that array for the backward
   * pass; a garbage collection in between frees the buffer, and the backward pass then reads
   * whatever reuses the memory (it corrupted the adapter at random, at a GC).
   */
  private final NDArray scale;

  private final ConvStack convs; // empty for an MLP
  private final LinearLayer[] layers;
  private final AdapterVector vector;

  /** Changes whenever the base weights change (see {@link #baseVersion()}). */
  private long baseVersion;

  private LoraNet(
      NDManager manager,
      Architecture arch,
      int rank,
      float alpha,
      float scaling,
      boolean loraConv) {
    this.manager = manager;
    this.arch = arch;
    this.rank = rank;
    this.alpha = alpha;
    this.scale = manager.create(scaling);
    this.convs = new ConvStack(manager, arch, rank, loraConv);
    // an MLP's adapter lives in one array, each A and B a view of it: the learner then reads and
    // writes it in one engine call per step instead of one per parameter
    NDArray flatAdapter =
        arch.convolutional() ? null : manager.zeros(new Shape(linearAdapterSize(arch, rank)));
    this.layers = createLayers(manager, arch, rank, flatAdapter);
    adapterParameters().forEach(p -> p.setRequiresGradient(true));
    this.vector = new AdapterVector(manager, flatAdapter, this::adapterParameters);
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
    float scaling = rsLora ? alpha / (float) Math.sqrt(rank) : alpha / rank;
    return new LoraNet(parent.newSubManager(), arch, rank, alpha, scaling, loraConv);
  }

  private static long linearAdapterSize(Architecture arch, int rank) {
    int[] sizes = arch.sizes();
    long size = 0;
    for (int l = 0; l < sizes.length - 1; l++) {
      size += (long) rank * (sizes[l] + sizes[l + 1]);
    }
    return size;
  }

  /** He-initialised Linear layers with fresh adapters, as views of {@code flat} unless null. */
  private static LinearLayer[] createLayers(
      NDManager m, Architecture arch, int rank, NDArray flat) {
    int[] sizes = arch.sizes();
    LinearLayer[] layers = new LinearLayer[sizes.length - 1];
    long offset = 0;
    for (int l = 0; l < layers.length; l++) {
      int in = sizes[l];
      int out = sizes[l + 1];
      NDArray w = ConvStack.normal(m, Math.sqrt(2.0 / in), new Shape(out, in)); // before A: seeds
      NDArray a = ConvStack.normal(m, 1.0 / in, new Shape(rank, in));
      NDArray b;
      if (flat == null) {
        b = m.zeros(new Shape(out, rank));
      } else {
        NDArray view = Tensors.view(flat, offset, a.getShape());
        view.set(EVERYTHING, a);
        a.close();
        a = view;
        b = Tensors.view(flat, offset + a.size(), new Shape(out, rank));
        offset += a.size() + b.size();
      }
      layers[l] = new LinearLayer(w, m.zeros(new Shape(out)), a, b);
    }
    return layers;
  }

  /** How many values the adapter holds: the length of {@link #adapterVector()}. */
  public int adapterSize() {
    return vector.size();
  }

  /**
   * The adapter's values as one host vector, parameter after parameter in the order of {@link
   * #adapterParameters()}: one copy for an MLP, whose adapter is one array already.
   */
  public float[] adapterVector() {
    return vector.read();
  }

  /**
   * Overwrites the adapter in place with {@code values}, laid out as {@link #adapterVector()}; one
   * engine copy for an MLP.
   */
  public void setAdapterVector(float[] values) {
    vector.write(values);
  }

  /** Logits for a batch {@code x} of shape (n, features); intermediates go to x's manager. */
  public NDArray forward(NDArray x) {
    NDArray h = convs.forward(x, scale);
    for (int l = 0; l < layers.length; l++) {
      LinearLayer layer = layers[l];
      h = layer.addLowRank(layer.lowRank(h, scale), layer.base(h));
      if (l < layers.length - 1) {
        h = h.getNDArrayInternal().relu();
      }
    }
    return h;
  }

  /**
   * True when the first layer is a Linear layer on the raw features, so that its frozen output
   * {@code x W^T + b} can be computed once per example and handed to {@link #pass} (an MLP).
   */
  public boolean hasFrozenFirstLayer() {
    return convs.isEmpty();
  }

  /**
   * The first layer's frozen output {@code x W^T + b} for the rows of {@code x}, in x's manager
   * (see {@link #hasFrozenFirstLayer()}). Reads only frozen weights, so it may run on another
   * thread while this model trains.
   */
  public NDArray frozenFirstLayer(NDArray x) {
    if (!hasFrozenFirstLayer()) {
      throw new UnsupportedOperationException("a convolutional base has no frozen first layer");
    }
    return layers[0].base(x);
  }

  /** Width of the first layer's output (see {@link #hasFrozenFirstLayer()}). */
  public int firstLayerWidth() {
    return arch.sizes()[1];
  }

  /**
   * Counts changes of the base weights ({@link #loadBase}, {@link #baseChanged}): values derived
   * from the frozen base, such as cached first-layer outputs, are valid while it stays the same.
   */
  public long baseVersion() {
    return baseVersion;
  }

  /** Notes that the base weights were changed in place (pretraining). */
  public void baseChanged() {
    baseVersion++;
  }

  /**
   * A training pass over the batch {@code x}: its logits now, and the adapter's gradients once the
   * gradient of the loss with respect to those logits is known ({@link Pass#backward}). The loss
   * itself is the caller's: it is computed from the logits on the host.
   *
   * <p>For an MLP the pass runs without autograd: the forward pass keeps each layer's input and
   * low-rank activations, and the backward pass is derived by hand (three small products per layer,
   * see {@link Pass#backward}). With these small layers autograd's bookkeeping cost about as much
   * as the arithmetic. A convolutional base goes through autograd.
   *
   * @param headRows how many of the first rows of {@code x} form the head (0 for none): their
   *     first-layer product is always a product of its own, so that handing in their output
   *     computed elsewhere by {@link #frozenFirstLayer} on exactly those rows changes nothing, not
   *     even a rounding (the matrix kernels round differently for different row counts)
   * @param frozenHead the head rows' frozen output {@code x W^T + b}, computed before the pass (a
   *     prefetched batch of new examples), or null to compute it here. Only where {@link
   *     #hasFrozenFirstLayer()}.
   * @param frozenTail the same for the last rows of {@code x} (null for none): rows the caller has
   *     computed before, for replayed examples. The rows between head and tail are computed here.
   */
  public Pass pass(NDArray x, int headRows, NDArray frozenHead, NDArray frozenTail) {
    if (hasFrozenFirstLayer()) {
      LinearPass.FrozenRows frozen = new LinearPass.FrozenRows(headRows, frozenHead, frozenTail);
      return new LinearPass(layers, scale, rank, adapterSize(), x, frozen);
    }
    if (headRows > 0 || frozenHead != null || frozenTail != null) {
      throw new IllegalArgumentException("a convolutional base has no frozen first layer");
    }
    return new AutogradPass(adapterParameters(), this::forward, x);
  }

  /**
   * The base weights by name (see {@link TensorNames}), as {@code retain pretrain} writes them:
   * convolutions (out, in, 3, 3) first, then Linear layers (out, in), each weight then bias.
   */
  public Map<String, SafeTensors.Tensor> baseTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    convs.baseTensors(out);
    for (int l = 0; l < layers.length; l++) {
      out.put(TensorNames.weight(TensorNames.linear(l)), Tensors.of(layers[l].weight));
      out.put(TensorNames.bias(TensorNames.linear(l)), Tensors.of(layers[l].bias));
    }
    return out;
  }

  /**
   * The adapter under the names PEFT uses (see {@link TensorNames}): A (r, in) and B (out, r) per
   * Linear layer; for convolutions A (r, in, 3, 3) and B (out, r, 1, 1).
   */
  public Map<String, SafeTensors.Tensor> adapterTensors() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    convs.adapterTensors(out);
    for (int l = 0; l < layers.length; l++) {
      out.put(TensorNames.loraA(TensorNames.linear(l)), Tensors.of(layers[l].loraA));
      out.put(TensorNames.loraB(TensorNames.linear(l)), Tensors.of(layers[l].loraB));
    }
    return out;
  }

  /** Replaces the base weights in place; every tensor must be present with its shape. */
  public void loadBase(Map<String, SafeTensors.Tensor> tensors) {
    baseChanged();
    convs.loadBase(tensors);
    for (int l = 0; l < layers.length; l++) {
      String module = TensorNames.linear(l);
      Tensors.assign(layers[l].weight, Tensors.require(tensors, TensorNames.weight(module)));
      Tensors.assign(layers[l].bias, Tensors.require(tensors, TensorNames.bias(module)));
    }
  }

  /** Replaces the adapter in place; every tensor must be present with its shape. */
  public void loadAdapter(Map<String, SafeTensors.Tensor> tensors) {
    convs.loadAdapter(tensors);
    for (int l = 0; l < layers.length; l++) {
      String module = TensorNames.linear(l);
      Tensors.assign(layers[l].loraA, Tensors.require(tensors, TensorNames.loraA(module)));
      Tensors.assign(layers[l].loraB, Tensors.require(tensors, TensorNames.loraB(module)));
    }
  }

  /** The base's identity: SHA-256 of its safetensors encoding, in hex. */
  public String baseHash() {
    return Tensors.sha256(SafeTensors.write(baseTensors(), Map.of()));
  }

  /** The trainable LoRA parameters: A then B per adapted layer, convolutions first. */
  public List<NDArray> adapterParameters() {
    List<NDArray> out = new ArrayList<>();
    convs.adapterParameters(out);
    for (LinearLayer layer : layers) {
      out.add(layer.loraA);
      out.add(layer.loraB);
    }
    return out;
  }

  /** The base parameters, W then b per layer, convolutions first; frozen except in pretraining. */
  public List<NDArray> baseParameters() {
    List<NDArray> out = new ArrayList<>();
    convs.baseParameters(out);
    for (LinearLayer layer : layers) {
      out.add(layer.weight);
      out.add(layer.bias);
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
