package dev.retain.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
  private static final NDIndex EVERYTHING = new NDIndex("...");

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
  private final NDArray[] loraAT; // transposed views of loraA and loraB, made once: see LinearPass
  private final NDArray[] loraBT;

  private NDArray flatAdapter; // an MLP's whole adapter, each A and B a view of it; else null
  private ByteBuffer vectorBuffer = ByteBuffer.allocateDirect(0); // see setAdapterVector
  private int adapterSize; // values in the adapter, fixed once created

  /** Changes whenever the base weights change (see {@link #baseVersion()}). */
  private long baseVersion;

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
    loraAT = new NDArray[layers];
    loraBT = new NDArray[layers];
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
    long adapterSize = 0;
    for (int l = 0; l < sizes.length - 1; l++) {
      adapterSize += (long) rank * (sizes[l] + sizes[l + 1]);
    }
    // an MLP's adapter lives in one array, each A and B a view of it: the learner then reads and
    // writes it in one engine call per step instead of one per parameter
    NDArray flat = arch.convolutional() ? null : m.zeros(new Shape(adapterSize));
    long offset = 0;
    for (int l = 0; l < sizes.length - 1; l++) {
      int in = sizes[l];
      int out = sizes[l + 1];
      model.weights[l] = normal(m, Math.sqrt(2.0 / in), new Shape(out, in));
      model.biases[l] = m.zeros(new Shape(out));
      NDArray a = normal(m, 1.0 / in, new Shape(rank, in));
      if (flat == null) {
        model.loraA[l] = a;
        model.loraB[l] = m.zeros(new Shape(out, rank));
      } else {
        model.loraA[l] = Tensors.view(flat, offset, a.getShape());
        model.loraA[l].set(EVERYTHING, a);
        a.close();
        offset += a.size();
        model.loraB[l] = Tensors.view(flat, offset, new Shape(out, rank));
        offset += (long) out * rank;
      }
    }
    model.flatAdapter = flat;
    for (int l = 0; l < sizes.length - 1; l++) {
      // views: they follow every in-place change of the adapter, so one per model suffices
      model.loraAT[l] = model.loraA[l].transpose();
      model.loraBT[l] = model.loraB[l].transpose();
    }
    model.adapterParameters().forEach(p -> p.setRequiresGradient(true));
    model.adapterSize =
        Math.toIntExact(model.adapterParameters().stream().mapToLong(NDArray::size).sum());
    return model;
  }

  /** How many values the adapter holds: the length of {@link #adapterVector()}. */
  public int adapterSize() {
    return adapterSize;
  }

  /**
   * The adapter's values as one host vector, parameter after parameter in the order of {@link
   * #adapterParameters()}: one copy for an MLP, whose adapter is one array already.
   */
  public float[] adapterVector() {
    return flatAdapter != null ? Tensors.floats(flatAdapter) : Tensors.floats(adapterParameters());
  }

  /**
   * Overwrites the adapter in place with {@code values}, laid out as {@link #adapterVector()}:
   * through one direct buffer reused across calls (a new one per call would grow resident memory in
   * a long loop), one engine copy for an MLP.
   */
  public void setAdapterVector(float[] values) {
    if (values.length != adapterSize()) {
      throw new IllegalArgumentException(values.length + " values for " + adapterSize());
    }
    if (vectorBuffer.capacity() < values.length * Float.BYTES) {
      vectorBuffer =
          ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
    }
    vectorBuffer.clear().limit(values.length * Float.BYTES);
    vectorBuffer.asFloatBuffer().put(values);
    try (NDManager scratch = manager.newSubManager()) {
      NDArray all = scratch.create(vectorBuffer, new Shape(values.length), DataType.FLOAT32);
      if (flatAdapter != null) {
        flatAdapter.set(EVERYTHING, all);
        return;
      }
      long offset = 0;
      for (NDArray p : adapterParameters()) {
        try (NDArray detached = p.stopGradient()) { // a parameter is a leaf that autograd tracks
          detached.set(EVERYTHING, Tensors.view(all, offset, p.getShape()));
        }
        offset += p.size();
      }
    }
  }

  private static NDArray normal(NDManager m, double std, Shape shape) {
    return m.randomNormal(0f, (float) std, shape, DataType.FLOAT32);
  }

  /** Logits for a batch {@code x} of shape (n, features); intermediates go to x's manager. */
  public NDArray forward(NDArray x) {
    NDArray h = x;
    if (arch.convolutional()) {
      long n = x.getShape().get(0);
      // a copy in memory the engine allocated: the CPU convolution kernels returned NaN for an
      // input that wraps a direct buffer (as the learner's batches do), on an AMD EPYC
      h = h.reshape(n, 1, arch.side(), arch.side()).duplicate();
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
      h = addLowRank(l, lowRank(l, h), linearBase(l, h));
      if (l < weights.length - 1) {
        h = h.getNDArrayInternal().relu();
      }
    }
    return h;
  }

  /** The frozen part of Linear layer {@code l}: {@code h W^T + b}. */
  private NDArray linearBase(int l, NDArray h) {
    return Linear.linear(h, weights[l], biases[l]).singletonOrThrow();
  }

  /** {@code s (h A^T)}: the low-rank activations of Linear layer {@code l}. */
  private NDArray lowRank(int l, NDArray h) {
    return Linear.linear(h, loraA[l]).singletonOrThrow().mul(scale);
  }

  /** Layer {@code l}'s output {@code base + u B^T}. */
  private NDArray addLowRank(int l, NDArray u, NDArray base) {
    return addmm(base, u, loraB[l]);
  }

  /**
   * {@code c + a b^T} in one engine call: torch's linear takes any bias that broadcasts to the
   * output, a whole matrix too, and runs addmm.
   */
  private static NDArray addmm(NDArray c, NDArray a, NDArray b) {
    return Linear.linear(a, b, c).singletonOrThrow();
  }

  /**
   * True when the first layer is a Linear layer on the raw features, so that its frozen output
   * {@code x W^T + b} can be computed once per example and handed to {@link #pass} (an MLP).
   */
  public boolean hasFrozenFirstLayer() {
    return !arch.convolutional();
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
    return linearBase(0, x);
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
    if (arch.convolutional()) {
      if (headRows > 0 || frozenHead != null || frozenTail != null) {
        throw new IllegalArgumentException("a convolutional base has no frozen first layer");
      }
      return new AutogradPass(x);
    }
    return new LinearPass(x, headRows, frozenHead, frozenTail);
  }

  /** A forward pass kept for its backward pass; see {@link #pass}. Close it when done. */
  public interface Pass extends AutoCloseable {
    /** Logits (n, classes). */
    NDArray logits();

    /**
     * The first layer's frozen output {@code x W^T + b} for every row (n, width), for caching; only
     * where {@link #hasFrozenFirstLayer()}.
     */
    NDArray frozenFirstLayer();

    /**
     * The gradient of the loss with respect to each adapter parameter, in the order of {@link
     * #adapterParameters()}, given {@code gradLogits}, its gradient with respect to the logits.
     * Call at most once.
     */
    List<NDArray> backward(NDArray gradLogits);

    /**
     * The same gradients as one host vector, laid out as {@link #adapterVector()}: what the
     * learner's host-side update takes. Call at most once, instead of {@link #backward}.
     */
    default float[] backwardVector(NDArray gradLogits) {
      return Tensors.floats(backward(gradLogits));
    }

    @Override
    void close();
  }

  /**
   * An MLP's pass without autograd. For layer l with input h, u = s h A^T and output z = h W^T + b
   * + u B^T, given G = dL/dz: dB = G^T u, dU = s G B, dA = dU^T h and, below the first layer, dL/dh
   * = G W + dU A, masked by the ReLU that made h (h > 0, which is sign(h) as h >= 0). The rank-r
   * products are computed with r as their row count (u^T = s A h^T, dB^T = u^T G, dU^T = s B^T
   * G^T): MKL's kernels for a thin result, r columns, were two to three times slower here. Each
   * engine call costs about ten microseconds besides its arithmetic, a transpose as much as a small
   * product, so products whose operand is transposed go through {@code linear} ({@code a b^T}) or
   * take the transposed views of A and B made once per model.
   */
  private final class LinearPass implements Pass {
    private final NDArray[] inputs = new NDArray[weights.length];
    private final NDArray[] lowRankT = new NDArray[weights.length]; // u^T = s A h^T, (r, n)
    private final NDArray frozen;
    private final NDArray logits;

    LinearPass(NDArray x, int headRows, NDArray frozenHead, NDArray frozenTail) {
      frozen = firstLayer(x, headRows, frozenHead, frozenTail);
      NDArray h = x;
      for (int l = 0; l < weights.length; l++) {
        inputs[l] = h;
        lowRankT[l] = Linear.linear(loraA[l], h).singletonOrThrow().muli(scale); // s A h^T
        h = addLowRank(l, lowRankT[l].transpose(), l == 0 ? frozen : linearBase(l, h));
        if (l < weights.length - 1) {
          h = h.getNDArrayInternal().relu();
        }
      }
      logits = h;
    }

    /**
     * The first layer's frozen output: the rows handed in, the head's product (when not handed in)
     * and the product of the rows between head and tail.
     */
    private NDArray firstLayer(NDArray x, int headRows, NDArray frozenHead, NDArray frozenTail) {
      long rows = x.getShape().get(0);
      long tail = frozenTail == null ? 0 : frozenTail.getShape().get(0);
      if (frozenHead != null && frozenHead.getShape().get(0) != headRows) {
        throw new IllegalArgumentException(
            frozenHead.getShape() + " as the frozen output of " + headRows + " head rows");
      }
      if (headRows + tail > rows) {
        throw new IllegalArgumentException(
            headRows + " head and " + tail + " tail rows in a batch of " + rows);
      }
      NDList parts = new NDList(3);
      if (headRows > 0) {
        parts.add(frozenHead != null ? frozenHead : linearBase(0, rowsOf(x, 0, headRows, rows)));
      }
      if (headRows + tail < rows) {
        parts.add(linearBase(0, rowsOf(x, headRows, rows - tail, rows)));
      }
      if (tail > 0) {
        parts.add(frozenTail);
      }
      return parts.size() == 1 ? parts.singletonOrThrow() : NDArrays.concat(parts);
    }

    /** Rows [from, to) of {@code x}, which has {@code rows}: x itself when that is all of them. */
    private NDArray rowsOf(NDArray x, long from, long to, long rows) {
      return from == 0 && to == rows ? x : x.get(new NDIndex().addSliceDim(from, to));
    }

    @Override
    public NDArray logits() {
      return logits;
    }

    @Override
    public NDArray frozenFirstLayer() {
      return frozen;
    }

    @Override
    public List<NDArray> backward(NDArray gradLogits) {
      NDArray[] grads = products(gradLogits);
      for (int l = 0; l < weights.length; l++) {
        grads[2 * l + 1] = grads[2 * l + 1].transpose(); // dB = (dB^T)^T
      }
      return List.of(grads);
    }

    /**
     * Reads dA and dB^T as the products leave them and lays dB out on the host: no transposed view
     * to make, and no copy to make it contiguous, per layer.
     */
    @Override
    public float[] backwardVector(NDArray gradLogits) {
      NDArray[] grads = products(gradLogits);
      float[] out = new float[adapterSize];
      int offset = 0;
      int[] sizes = arch.sizes();
      for (int l = 0; l < weights.length; l++) {
        float[] dA = Tensors.floats(grads[2 * l]);
        System.arraycopy(dA, 0, out, offset, dA.length);
        offset += dA.length;
        float[] dBT = Tensors.floats(grads[2 * l + 1]); // (r, out)
        int width = sizes[l + 1];
        for (int k = 0; k < rank; k++) {
          for (int o = 0; o < width; o++) {
            out[offset + o * rank + k] = dBT[k * width + o];
          }
        }
        offset += dBT.length;
      }
      return out;
    }

    /** dA and dB^T of each layer, in the order of {@link #adapterParameters()}. */
    private NDArray[] products(NDArray gradLogits) {
      NDArray[] grads = new NDArray[2 * weights.length];
      NDArray g = gradLogits;
      for (int l = weights.length - 1; l >= 0; l--) {
        grads[2 * l + 1] = lowRankT[l].matMul(g); // dB^T = u^T G
        NDArray duT = Linear.linear(loraBT[l], g).singletonOrThrow().muli(scale); // s B^T G^T
        grads[2 * l] = duT.matMul(inputs[l]); // dA = dU^T h
        if (l > 0) { // G W + dU A in one addmm, masked by the ReLU
          NDArray gw = g.matMul(weights[l]);
          g = addmm(gw, duT.transpose(), loraAT[l]).muli(inputs[l].sign());
        }
      }
      return grads;
    }

    @Override
    public void close() {
      // nothing held: the arrays belong to the caller's scope
    }
  }

  /**
   * A pass through autograd (a convolutional base). The caller's loss gradient enters as the
   * constant weights of a surrogate {@code sum(logits * G)}, whose gradient is exactly G.
   */
  private final class AutogradPass implements Pass {
    private final GradientCollector collector;
    private final NDArray logits;
    private boolean collecting = true;

    AutogradPass(NDArray x) {
      collector = Engine.getInstance().newGradientCollector();
      try {
        logits = forward(x);
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
      adapterParameters().forEach(p -> grads.add(p.getGradient()));
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
      adapterParameters().forEach(p -> p.getGradient().set(EVERYTHING, 0f));
    }
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
    baseChanged();
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
