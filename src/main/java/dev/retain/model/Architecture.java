package dev.retain.model;

import java.util.Arrays;

/**
 * The shape of a base: optional 3x3 convolutions over a square single-channel image (padding 1,
 * each followed by ReLU and 2x2 max pooling), then Linear layers with ReLU between them.
 *
 * @param side the image's side, or 0 for a plain MLP over feature vectors
 * @param channels output channels of each convolution; empty for an MLP
 * @param sizes the Linear layers' sizes: inputs (the flattened convolution output for a CNN),
 *     hidden layers, classes
 */
public record Architecture(int side, int[] channels, int[] sizes) {
  public Architecture {
    channels = channels.clone();
    sizes = sizes.clone();
    if (sizes.length < 2) {
      throw new IllegalArgumentException("need at least 2 layer sizes");
    }
    if (channels.length > 0 && side < 1) {
      throw new IllegalArgumentException("a convolutional base needs the image side");
    }
  }

  /** An MLP: {@code sizes} from features to classes. */
  public static Architecture mlp(int... sizes) {
    return new Architecture(0, new int[0], sizes);
  }

  /**
   * A small CNN for {@code side x side} images: the convolutions, then {@code hidden} Linear
   * layers, then {@code classes} outputs. Each pooling halves the side exactly, so the side must be
   * a multiple of 2^convolutions (and can then be read back from the weights' shapes).
   */
  /** {@code inputs}, then {@code hidden}, then {@code classes}. */
  private static int[] sizes(int inputs, int[] hidden, int classes) {
    int[] sizes = new int[hidden.length + 2];
    sizes[0] = inputs;
    System.arraycopy(hidden, 0, sizes, 1, hidden.length);
    sizes[sizes.length - 1] = classes;
    return sizes;
  }

  public static Architecture cnn(int side, int[] channels, int[] hidden, int classes) {
    if (channels.length == 0) {
      throw new IllegalArgumentException("a CNN needs at least one convolution");
    }
    int pooled = 1 << channels.length;
    if (side % pooled != 0) {
      String poolings = " for " + channels.length + " 2x2 poolings";
      throw new IllegalArgumentException(
          "the image side " + side + " must be a multiple of " + pooled + poolings);
    }
    int s = side / pooled;
    return new Architecture(
        side, channels, sizes(channels[channels.length - 1] * s * s, hidden, classes));
  }

  public boolean convolutional() {
    return channels.length > 0;
  }

  /** Inputs per example: the image's pixels, or the MLP's first layer. */
  public int features() {
    return convolutional() ? side * side : sizes[0];
  }

  public int classes() {
    return sizes[sizes.length - 1];
  }

  @Override
  public int[] channels() {
    return channels.clone();
  }

  @Override
  public int[] sizes() {
    return sizes.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Architecture a
        && side == a.side
        && Arrays.equals(channels, a.channels)
        && Arrays.equals(sizes, a.sizes);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * side + Arrays.hashCode(channels)) + Arrays.hashCode(sizes);
  }

  /** For logs and base metadata: {@code mlp 784-256-256-10} or {@code cnn 28x28 c16-32 ...}. */
  @Override
  public String toString() {
    StringBuilder out =
        new StringBuilder(convolutional() ? "cnn " + side + "x" + side + " c" : "mlp ");
    if (convolutional()) {
      out.append(join(channels)).append(" dense ");
    }
    return out.append(join(sizes)).toString();
  }

  private static String join(int[] values) {
    StringBuilder out = new StringBuilder();
    for (int v : values) {
      out.append(out.length() == 0 ? "" : "-").append(v);
    }
    return out.toString();
  }
}
