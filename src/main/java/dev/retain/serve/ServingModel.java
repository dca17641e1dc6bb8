package dev.retain.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.retain.adapter.AdapterArchive;
import dev.retain.model.SafeTensors;
import dev.retain.model.TensorNames;
import java.util.List;
import java.util.Map;

/**
 * One adapter version ready to serve: the base's layers with the adapter merged in ({@code W + s B
 * A}; for a convolution A is (r, in, 3, 3) and B (out, r, 1, 1), so the same product gives the
 * merged 3x3 kernel), evaluated in plain Java. Immutable, so a request that took it keeps using it
 * while a newer version is swapped in, and nothing native has to be released when it is dropped.
 */
public final class ServingModel {
  /** Rows of W^T read per block of a batch: 64 KiB, well inside a core's L2 cache. */
  private static final int BLOCK_FLOATS = 16 * 1024;

  private final String version;
  private final JsonNode config;
  private final JsonNode provenance;
  private final List<Conv> convs; // empty for an MLP
  private final int side; // image side of a CNN, 0 for an MLP
  private final float[][] weights; // per layer, (in, out) row-major: W transposed
  private final float[][] biases;
  private final int[] sizes;

  /** A merged 3x3 convolution (padding 1) with ReLU and 2x2 max pooling after it. */
  private record Conv(int in, int out, float[] weight, float[] bias) {}

  private ServingModel(
      String version,
      JsonNode config,
      JsonNode provenance,
      List<Conv> convs,
      float[][] weights,
      float[][] biases) {
    this.version = version;
    this.config = config;
    this.provenance = provenance;
    this.convs = convs;
    this.weights = weights;
    this.biases = biases;
    this.sizes = new int[weights.length + 1];
    for (int l = 0; l < weights.length; l++) {
      sizes[l + 1] = biases[l].length;
      sizes[l] = weights[l].length / biases[l].length; // weights are (in, out)
    }
    if (convs.isEmpty()) {
      side = 0;
    } else {
      int pooled = (int) Math.round(Math.sqrt(sizes[0] / convs.get(convs.size() - 1).out()));
      side = pooled << convs.size();
    }
  }

  /** Merges {@code adapter} into {@code base} (tensors as {@code retain pretrain} writes them). */
  public static ServingModel merge(Map<String, SafeTensors.Tensor> base, AdapterArchive adapter) {
    JsonNode config = adapter.config();
    int rank = config.path("r").asInt();
    double alpha = config.path("lora_alpha").asDouble();
    float scaling =
        (float) (config.path("use_rslora").asBoolean() ? alpha / Math.sqrt(rank) : alpha / rank);
    List<Conv> convs = new java.util.ArrayList<>();
    for (int c = 0; base.containsKey(TensorNames.weight(TensorNames.conv(c))); c++) {
      SafeTensors.Tensor w = base.get(TensorNames.weight(TensorNames.conv(c)));
      int out = (int) w.shape()[0];
      int in = (int) w.shape()[1];
      float[] merged = w.data().clone();
      SafeTensors.Tensor a = adapter.tensors().get(TensorNames.loraA(TensorNames.conv(c)));
      SafeTensors.Tensor b = adapter.tensors().get(TensorNames.loraB(TensorNames.conv(c)));
      if (a != null && b != null) { // conv LoRA is optional
        addProduct(merged, b, a, scaling, out, in * 9);
      }
      convs.add(
          new Conv(
              in, out, merged, base.get(TensorNames.bias(TensorNames.conv(c))).data().clone()));
    }
    int layers = 0;
    while (base.containsKey(TensorNames.weight(TensorNames.linear(layers)))) {
      layers++;
    }
    float[][] weights = new float[layers][];
    float[][] biases = new float[layers][];
    for (int l = 0; l < layers; l++) {
      SafeTensors.Tensor w = base.get(TensorNames.weight(TensorNames.linear(l)));
      weights[l] = w.data().clone();
      biases[l] = base.get(TensorNames.bias(TensorNames.linear(l))).data().clone();
      SafeTensors.Tensor a = adapter.tensors().get(TensorNames.loraA(TensorNames.linear(l)));
      SafeTensors.Tensor b = adapter.tensors().get(TensorNames.loraB(TensorNames.linear(l)));
      if (a == null || b == null) {
        throw new IllegalArgumentException("adapter lacks layer " + l);
      }
      addProduct(weights[l], b, a, scaling, (int) w.shape()[0], (int) w.shape()[1]);
      weights[l] = transpose(weights[l], (int) w.shape()[0], (int) w.shape()[1]);
    }
    return new ServingModel(
        adapter.version(), config, adapter.provenance(), convs, weights, biases);
  }

  /** w += s * B (out x r) * A (r x in), trailing dimensions of A and B flattened. */
  private static void addProduct(
      float[] w, SafeTensors.Tensor b, SafeTensors.Tensor a, float s, int out, int in) {
    int rank = (int) a.shape()[0];
    if (b.shape()[0] != out || b.data().length != out * rank || a.data().length != rank * in) {
      throw new IllegalArgumentException("adapter shapes do not fit the base");
    }
    for (int o = 0; o < out; o++) {
      for (int k = 0; k < rank; k++) {
        axpy(s * b.data()[o * rank + k], a.data(), k * in, w, o * in, in);
      }
    }
  }

  /** {@code y[yAt..] += alpha x[xAt..]} over {@code n} values; nothing when alpha is 0. */
  private static void axpy(float alpha, float[] x, int xAt, float[] y, int yAt, int n) {
    if (alpha == 0f) {
      return;
    }
    for (int i = 0; i < n; i++) {
      y[yAt + i] += alpha * x[xAt + i];
    }
  }

  private static float[] transpose(float[] w, int rows, int cols) {
    float[] t = new float[w.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = w[r * cols + c];
      }
    }
    return t;
  }

  /** Class probabilities for one input. */
  public float[] probabilities(float[] x) {
    return probabilities(List.of(x))[0];
  }

  /**
   * Class probabilities for a batch. Each weight row is read once per batch rather than once per
   * instance, so a batch costs compute, not memory bandwidth.
   */
  public float[][] probabilities(List<float[]> xs) {
    float[][] h = logits(xs);
    for (int b = 0; b < h.length; b++) {
      h[b] = softmax(h[b]);
    }
    return h;
  }

  /** The model's raw outputs (before softmax) for a batch. */
  /** The flattened output of the convolutions for one input (the input itself for an MLP). */
  private float[] convolutions(float[] x) {
    if (x.length != features()) {
      throw new IllegalArgumentException("expected " + features() + " features, got " + x.length);
    }
    float[] h = x;
    int s = side;
    for (Conv conv : convs) {
      h = convolve(conv, h, s);
      s /= 2;
    }
    return h;
  }

  public float[][] logits(List<float[]> xs) {
    float[][] h = new float[xs.size()][];
    for (int b = 0; b < h.length; b++) {
      h[b] = convolutions(xs.get(b));
    }
    for (int l = 0; l < weights.length; l++) {
      h = layer(l, h, l < weights.length - 1);
    }
    return h;
  }

  /**
   * y = relu?(x W^T + b) as a sum of scaled rows of W^T (y += x[i] * Wt[i]): the inner loop runs
   * over contiguous outputs with no reduction, which the JIT vectorises. Inputs are taken in blocks
   * whose rows of Wt stay in cache while every instance of the batch uses them.
   */
  private float[][] layer(int l, float[][] h, boolean relu) {
    float[] wt = weights[l];
    int out = biases[l].length;
    int in = sizes[l];
    float[][] y = new float[h.length][];
    for (int b = 0; b < h.length; b++) {
      y[b] = biases[l].clone();
    }
    int block = Math.max(1, BLOCK_FLOATS / out);
    for (int from = 0; from < in; from += block) {
      int to = Math.min(in, from + block);
      for (int b = 0; b < h.length; b++) {
        float[] x = h[b];
        float[] yb = y[b];
        for (int i = from; i < to; i++) {
          float xi = x[i];
          if (xi != 0f) {
            axpy(xi, wt, i * out, yb, out);
          }
        }
      }
    }
    if (relu) {
      for (float[] yb : y) {
        for (int o = 0; o < out; o++) {
          yb[o] = Math.max(yb[o], 0f);
        }
      }
    }
    return y;
  }

  private static void axpy(float a, float[] w, int offset, float[] y, int n) {
    for (int o = 0; o < n; o++) {
      y[o] += a * w[offset + o];
    }
  }

  /**
   * One channel-major image (in, s, s) through a 3x3 convolution with padding 1, ReLU and 2x2 max
   * pooling: (out, s/2, s/2), the layout PyTorch flattens.
   */
  private static float[] convolve(Conv conv, float[] x, int s) {
    float[] y = new float[conv.out() * s * s];
    for (int o = 0; o < conv.out(); o++) {
      int plane = o * s * s;
      java.util.Arrays.fill(y, plane, plane + s * s, conv.bias()[o]);
      for (int i = 0; i < conv.in(); i++) {
        int kernel = (o * conv.in() + i) * 9;
        int input = i * s * s;
        for (int ky = 0; ky < 3; ky++) {
          for (int kx = 0; kx < 3; kx++) {
            float k = conv.weight()[kernel + ky * 3 + kx];
            // output (r, c) reads input (r + ky - 1, c + kx - 1); the rest is zero padding
            int c0 = Math.max(0, 1 - kx);
            int c1 = Math.min(s, s + 1 - kx);
            for (int r = Math.max(0, 1 - ky); r < Math.min(s, s + 1 - ky); r++) {
              int out = plane + r * s;
              int in = input + (r + ky - 1) * s + kx - 1;
              for (int c = c0; c < c1; c++) {
                y[out + c] += k * x[in + c];
              }
            }
          }
        }
      }
    }
    int half = s / 2;
    float[] pooled = new float[conv.out() * half * half];
    for (int o = 0; o < conv.out(); o++) {
      for (int r = 0; r < half; r++) {
        for (int c = 0; c < half; c++) {
          int at = o * s * s + 2 * r * s + 2 * c;
          float m = Math.max(Math.max(y[at], y[at + 1]), Math.max(y[at + s], y[at + s + 1]));
          pooled[(o * half + r) * half + c] = Math.max(m, 0f); // ReLU commutes with max
        }
      }
    }
    return pooled;
  }

  /** exp(z - max) normalised: probabilities from logits. */
  public static float[] softmax(float[] z) {
    float max = Float.NEGATIVE_INFINITY;
    for (float v : z) {
      max = Math.max(max, v);
    }
    double sum = 0;
    float[] p = new float[z.length];
    for (int i = 0; i < z.length; i++) {
      p[i] = (float) Math.exp(z[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= (float) sum;
    }
    return p;
  }

  public String version() {
    return version;
  }

  /** Retain's provenance of the adapter: version, parent, base hash, evaluation, positions. */
  public JsonNode provenance() {
    return provenance;
  }

  /** The adapter's PEFT config. */
  public JsonNode config() {
    return config;
  }

  public int features() {
    return convs.isEmpty() ? sizes[0] : side * side;
  }
}
