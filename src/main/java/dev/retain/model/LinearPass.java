package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.core.Linear;
import java.util.List;

/**
 * An MLP's pass without autograd. For layer l with input h, u = s h A^T and output z = h W^T + b +
 * u B^T, given G = dL/dz: dB = G^T u, dU = s G B, dA = dU^T h and, below the first layer, dL/dh = G
 * W + dU A, masked by the ReLU that made h (h > 0, which is sign(h) as h >= 0). The rank-r products
 * are computed with r as their row count (u^T = s A h^T, dB^T = u^T G, dU^T = s B^T G^T): MKL's
 * kernels for a thin result, r columns, were two to three times slower here. Each engine call costs
 * about ten microseconds besides its arithmetic, a transpose as much as a small product, so
 * products whose operand is transposed go through {@code linear} ({@code a b^T}) or take the
 * transposed views of A and B made once per model.
 */
final class LinearPass implements Pass {
  private final LinearLayer[] layers;
  private final NDArray scale;
  private final int rank;
  private final int adapterSize;
  private final NDArray[] inputs;
  private final NDArray[] lowRankT; // u^T = s A h^T, (r, n)
  private final NDArray frozen;
  private final NDArray logits;

  LinearPass(
      LinearLayer[] layers,
      NDArray scale,
      int rank,
      int adapterSize,
      NDArray x,
      FrozenRows frozenRows) {
    this.layers = layers;
    this.scale = scale;
    this.rank = rank;
    this.adapterSize = adapterSize;
    inputs = new NDArray[layers.length];
    lowRankT = new NDArray[layers.length];
    frozen = firstLayer(x, frozenRows);
    NDArray h = x;
    for (int l = 0; l < layers.length; l++) {
      inputs[l] = h;
      lowRankT[l] = Linear.linear(layers[l].loraA, h).singletonOrThrow().muli(scale); // s A h^T
      h = layers[l].addLowRank(lowRankT[l].transpose(), l == 0 ? frozen : layers[l].base(h));
      if (l < layers.length - 1) {
        h = h.getNDArrayInternal().relu();
      }
    }
    logits = h;
  }

  /**
   * Rows of the first layer's frozen output known before the pass: {@code headRows} first rows
   * (with their output, or null to compute it as a product of its own) and a tail of rows.
   */
  record FrozenRows(int headRows, NDArray head, NDArray tail) {
    long tailRows() {
      return tail == null ? 0 : tail.getShape().get(0);
    }

    /** Fails unless the rows fit a batch of {@code rows}. */
    void check(long rows) {
      if (head != null && head.getShape().get(0) != headRows) {
        throw new IllegalArgumentException(
            head.getShape() + " as the frozen output of " + headRows + " head rows");
      }
      if (headRows + tailRows() > rows) {
        throw new IllegalArgumentException(
            headRows + " head and " + tailRows() + " tail rows in a batch of " + rows);
      }
    }
  }

  /**
   * The first layer's frozen output: the rows handed in, the head's product (when not handed in)
   * and the product of the rows between head and tail.
   */
  private NDArray firstLayer(NDArray x, FrozenRows given) {
    long rows = x.getShape().get(0);
    int headRows = given.headRows();
    long tail = given.tailRows();
    given.check(rows);
    NDList parts = new NDList(3);
    if (headRows > 0) {
      parts.add(given.head() != null ? given.head() : layers[0].base(rowsOf(x, 0, headRows, rows)));
    }
    middle(x, headRows, rows - tail, rows, parts);
    if (tail > 0) {
      parts.add(given.tail());
    }
    return parts.size() == 1 ? parts.singletonOrThrow() : NDArrays.concat(parts);
  }

  /** The product of rows [from, to) of {@code x}, unless there are none. */
  private void middle(NDArray x, long from, long to, long rows, NDList parts) {
    if (from < to) {
      parts.add(layers[0].base(rowsOf(x, from, to, rows)));
    }
  }

  /** Rows [from, to) of {@code x}, which has {@code rows}: x itself when that is all of them. */
  private static NDArray rowsOf(NDArray x, long from, long to, long rows) {
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
    for (int l = 0; l < layers.length; l++) {
      grads[2 * l + 1] = grads[2 * l + 1].transpose(); // dB = (dB^T)^T
    }
    return List.of(grads);
  }

  /**
   * Reads dA and dB^T as the products leave them and lays dB out on the host: no transposed view to
   * make, and no copy to make it contiguous, per layer.
   */
  @Override
  public float[] backwardVector(NDArray gradLogits) {
    NDArray[] grads = products(gradLogits);
    float[] out = new float[adapterSize];
    int offset = 0;
    for (int l = 0; l < layers.length; l++) {
      float[] dA = Tensors.floats(grads[2 * l]);
      System.arraycopy(dA, 0, out, offset, dA.length);
      offset += dA.length;
      float[] dBT = Tensors.floats(grads[2 * l + 1]); // (r, out)
      transposeInto(dBT, (int) layers[l].bias.size(), out, offset);
      offset += dBT.length;
    }
    return out;
  }

  /** Writes {@code dBT} (r, width) into {@code out} at {@code offset} as (width, r). */
  private void transposeInto(float[] dBT, int width, float[] out, int offset) {
    for (int k = 0; k < rank; k++) {
      for (int o = 0; o < width; o++) {
        out[offset + o * rank + k] = dBT[k * width + o];
      }
    }
  }

  /** dA and dB^T of each layer, in the order of the adapter's parameters. */
  private NDArray[] products(NDArray gradLogits) {
    NDArray[] grads = new NDArray[2 * layers.length];
    NDArray g = gradLogits;
    for (int l = layers.length - 1; l >= 0; l--) {
      LinearLayer layer = layers[l];
      grads[2 * l + 1] = lowRankT[l].matMul(g); // dB^T = u^T G
      NDArray duT = Linear.linear(layer.loraBT, g).singletonOrThrow().muli(scale); // s B^T G^T
      grads[2 * l] = duT.matMul(inputs[l]); // dA = dU^T h
      if (l > 0) { // G W + dU A in one addmm, masked by the ReLU
        NDArray gw = g.matMul(layer.weight);
        g = LinearLayer.addmm(gw, duT.transpose(), layer.loraAT).muli(inputs[l].sign());
      }
    }
    return grads;
  }

  @Override
  public void close() {
    // nothing held: the arrays belong to the caller's scope
  }
}
