package dev.retain.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.retain.model.SafeTensors;
import dev.retain.publish.AdapterArchive;
import java.util.List;
import java.util.Map;

/**
 * One adapter version ready to serve: the base's Linear layers with the adapter merged in ({@code W
 * + s B A}), evaluated in plain Java. Immutable, so a request that took it keeps using it while a
 * newer version is swapped in, and nothing native has to be released when it is dropped.
 */
public final class ServingModel {
  private final String version;
  private final JsonNode config;
  private final float[][] weights; // per layer, (out, in) row-major
  private final float[][] biases;
  private final int[] sizes;

  private ServingModel(String version, JsonNode config, float[][] weights, float[][] biases) {
    this.version = version;
    this.config = config;
    this.weights = weights;
    this.biases = biases;
    this.sizes = new int[weights.length + 1];
    for (int l = 0; l < weights.length; l++) {
      sizes[l + 1] = biases[l].length;
      sizes[l] = weights[l].length / biases[l].length;
    }
  }

  /** Merges {@code adapter} into {@code base} (tensors as {@code retain pretrain} writes them). */
  public static ServingModel merge(Map<String, SafeTensors.Tensor> base, AdapterArchive adapter) {
    JsonNode config = adapter.config();
    int rank = config.path("r").asInt();
    double alpha = config.path("lora_alpha").asDouble();
    float scaling =
        (float) (config.path("use_rslora").asBoolean() ? alpha / Math.sqrt(rank) : alpha / rank);
    int layers = 0;
    while (base.containsKey("layers." + layers + ".weight")) {
      layers++;
    }
    float[][] weights = new float[layers][];
    float[][] biases = new float[layers][];
    for (int l = 0; l < layers; l++) {
      SafeTensors.Tensor w = base.get("layers." + l + ".weight");
      weights[l] = w.data().clone();
      biases[l] = base.get("layers." + l + ".bias").data().clone();
      SafeTensors.Tensor a =
          adapter.tensors().get("base_model.model.layers." + l + ".lora_A.weight");
      SafeTensors.Tensor b =
          adapter.tensors().get("base_model.model.layers." + l + ".lora_B.weight");
      if (a == null || b == null) {
        throw new IllegalArgumentException("adapter lacks layer " + l);
      }
      addProduct(weights[l], b, a, scaling, (int) w.shape()[0], (int) w.shape()[1]);
    }
    return new ServingModel(adapter.version(), config, weights, biases);
  }

  /** w += s * B (out x r) * A (r x in). */
  private static void addProduct(
      float[] w, SafeTensors.Tensor b, SafeTensors.Tensor a, float s, int out, int in) {
    int rank = (int) a.shape()[0];
    if (b.shape()[0] != out || b.shape()[1] != rank || a.shape()[1] != in) {
      throw new IllegalArgumentException("adapter shapes do not fit the base");
    }
    for (int o = 0; o < out; o++) {
      for (int k = 0; k < rank; k++) {
        float bok = s * b.data()[o * rank + k];
        if (bok == 0f) {
          continue;
        }
        int row = o * in;
        int arow = k * in;
        for (int i = 0; i < in; i++) {
          w[row + i] += bok * a.data()[arow + i];
        }
      }
    }
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
    float[][] h = new float[xs.size()][];
    for (int b = 0; b < h.length; b++) {
      h[b] = xs.get(b);
      if (h[b].length != sizes[0]) {
        throw new IllegalArgumentException(
            "expected " + sizes[0] + " features, got " + h[b].length);
      }
    }
    for (int l = 0; l < weights.length; l++) {
      h = layer(l, h, l < weights.length - 1);
    }
    for (int b = 0; b < h.length; b++) {
      h[b] = softmax(h[b]);
    }
    return h;
  }

  private float[][] layer(int l, float[][] h, boolean relu) {
    int out = biases[l].length;
    int in = h[0].length;
    float[][] y = new float[h.length][out];
    for (int o = 0; o < out; o++) {
      int row = o * in;
      for (int b = 0; b < h.length; b++) {
        float sum = biases[l][o] + dot(weights[l], row, h[b]);
        y[b][o] = relu && sum < 0 ? 0 : sum;
      }
    }
    return y;
  }

  /** w[row..row+h.length) . h with four accumulators, which the JIT pipelines. */
  private static float dot(float[] w, int row, float[] h) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    int n = h.length;
    int i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += w[row + i] * h[i];
      s1 += w[row + i + 1] * h[i + 1];
      s2 += w[row + i + 2] * h[i + 2];
      s3 += w[row + i + 3] * h[i + 3];
    }
    for (; i < n; i++) {
      s0 += w[row + i] * h[i];
    }
    return (s0 + s1) + (s2 + s3);
  }

  private static float[] softmax(float[] z) {
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

  /** The adapter's config (PEFT fields and Retain's provenance). */
  public JsonNode config() {
    return config;
  }

  public int features() {
    return sizes[0];
  }
}
