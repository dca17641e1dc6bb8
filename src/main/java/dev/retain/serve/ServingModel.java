package dev.retain.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.retain.model.SafeTensors;
import dev.retain.publish.AdapterArchive;
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
    if (x.length != sizes[0]) {
      throw new IllegalArgumentException("expected " + sizes[0] + " features, got " + x.length);
    }
    float[] h = x;
    for (int l = 0; l < weights.length; l++) {
      h = layer(l, h, l < weights.length - 1);
    }
    return softmax(h);
  }

  private float[] layer(int l, float[] h, boolean relu) {
    int out = biases[l].length;
    int in = h.length;
    float[] w = weights[l];
    float[] y = new float[out];
    for (int o = 0; o < out; o++) {
      float sum = biases[l][o];
      int row = o * in;
      for (int i = 0; i < in; i++) {
        sum += w[row + i] * h[i];
      }
      y[o] = relu && sum < 0 ? 0 : sum;
    }
    return y;
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
