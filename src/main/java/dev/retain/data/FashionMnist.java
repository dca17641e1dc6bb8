package dev.retain.data;

import dev.retain.record.Example;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST from Debian's {@code dataset-fashion-mnist} package (IDX files, gzipped, under
 * {@value #DEFAULT_DIR}), as 784 pixel features scaled to [0, 1], with the continual-learning
 * domains the benchmarks use: permuted (domain 0 = original, others = fixed pixel permutations),
 * rotated (by multiples of 45 degrees) and class-incremental (domain d holds classes 2d and 2d+1).
 */
public final class FashionMnist {
  public static final String DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
  public static final String INSTALL_HINT =
      "Fashion-MNIST is missing: install it with `apt-get install dataset-fashion-mnist`"
          + " (files under "
          + DEFAULT_DIR
          + ")";
  public static final int PIXELS = 784;
  public static final int CLASSES = 10;

  /** Classes each domain of the class-incremental shift introduces. */
  public static final int CLASSES_PER_DOMAIN = 2;

  private final float[][] images;
  private final int[] labels;
  private final int[][] byPair; // class-incremental: the image indices of each pair of classes

  private FashionMnist(float[][] images, int[] labels) {
    this.images = images;
    this.labels = labels;
    this.byPair = pairs(labels);
  }

  /** The indices of the images of classes 2d and 2d+1, in file order, for each d. */
  private static int[][] pairs(int[] labels) {
    int[] counts = new int[CLASSES / CLASSES_PER_DOMAIN];
    for (int label : labels) {
      counts[label / CLASSES_PER_DOMAIN]++;
    }
    int[][] out = new int[counts.length][];
    for (int d = 0; d < out.length; d++) {
      out[d] = new int[counts[d]];
      counts[d] = 0;
    }
    for (int i = 0; i < labels.length; i++) {
      int d = labels[i] / CLASSES_PER_DOMAIN;
      out[d][counts[d]++] = i;
    }
    return out;
  }

  /** True when the package's files are present in {@code dir}. */
  public static boolean available(Path dir) {
    return Files.isReadable(dir.resolve("train-images-idx3-ubyte.gz"))
        && Files.isReadable(dir.resolve("t10k-images-idx3-ubyte.gz"));
  }

  /** The training (60,000) or test (10,000) split. */
  public static FashionMnist load(Path dir, boolean train) {
    String prefix = train ? "train" : "t10k";
    try {
      return new FashionMnist(
          images(dir.resolve(prefix + "-images-idx3-ubyte.gz")),
          labels(dir.resolve(prefix + "-labels-idx1-ubyte.gz")));
    } catch (IOException e) {
      throw new UncheckedIOException(INSTALL_HINT + ": " + e.getMessage(), e);
    }
  }

  private static DataInputStream open(Path file) throws IOException {
    InputStream in = new GZIPInputStream(Files.newInputStream(file), 1 << 16);
    return new DataInputStream(new java.io.BufferedInputStream(in, 1 << 16));
  }

  /** Pixels 0..255 as 0..1. */
  private static float[] scaled(byte[] row) {
    float[] out = new float[row.length];
    for (int p = 0; p < row.length; p++) {
      out[p] = (row[p] & 0xff) / 255f;
    }
    return out;
  }

  private static float[][] images(Path file) throws IOException {
    try (DataInputStream in = open(file)) {
      if (in.readInt() != 0x803) {
        throw new IOException(file + " is not an IDX image file");
      }
      int n = in.readInt();
      int pixels = in.readInt() * in.readInt();
      float[][] out = new float[n][];
      byte[] row = new byte[pixels];
      for (int i = 0; i < n; i++) {
        in.readFully(row);
        out[i] = scaled(row);
      }
      return out;
    }
  }

  private static int[] labels(Path file) throws IOException {
    try (DataInputStream in = open(file)) {
      if (in.readInt() != 0x801) {
        throw new IOException(file + " is not an IDX label file");
      }
      int[] out = new int[in.readInt()];
      for (int i = 0; i < out.length; i++) {
        out[i] = in.readUnsignedByte();
      }
      return out;
    }
  }

  public int size() {
    return labels.length;
  }

  /** Images in {@code domain} under {@code shift}: all of them, or those of its classes. */
  public int size(Shift shift, int domain) {
    return shift == Shift.CLASS_INCREMENTAL ? byPair[domain].length : labels.length;
  }

  /** The kinds of domain shift the benchmarks use. */
  public enum Shift {
    PERMUTED,
    ROTATED,
    /** Domain d holds the images of classes 2d and 2d+1, unchanged: at most five domains. */
    CLASS_INCREMENTAL;

    /** The largest number of domains the shift has. */
    public int maxDomains() {
      return this == CLASS_INCREMENTAL ? CLASSES / CLASSES_PER_DOMAIN : Integer.MAX_VALUE;
    }

    /** The shift a stream name such as {@code fashion-class-incremental} names. */
    public static Shift named(String name) {
      return valueOf(name.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
    }
  }

  /**
   * Image {@code index} as seen in {@code domain}: permuted pixels (domain 0 unchanged), rotated by
   * 45 degrees times the domain number, or (class-incremental) the index-th image of the domain's
   * classes, modulo their count.
   */
  public Example example(Shift shift, int domain, int index, long seed) {
    if (domain >= shift.maxDomains()) {
      throw new IllegalArgumentException(
          shift + " has " + shift.maxDomains() + " domains, not " + (domain + 1));
    }
    int image =
        shift == Shift.CLASS_INCREMENTAL ? byPair[domain][index % byPair[domain].length] : index;
    float[] x =
        switch (shift) {
          case PERMUTED -> permute(images[image], Permutations.of(PIXELS, domain, seed));
          case ROTATED -> rotate(images[image], domain * 45);
          case CLASS_INCREMENTAL -> images[image].clone();
        };
    String id = shift.name().toLowerCase(java.util.Locale.ROOT).charAt(0) + "d" + domain;
    return new Example(id + "-" + index, x, labels[image], "domain-" + domain, 0L);
  }

  /** Examples {@code from} (inclusive) to {@code to} of one domain. */
  public List<Example> domain(Shift shift, int domain, int from, int to, long seed) {
    List<Example> out = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      out.add(example(shift, domain, i, seed));
    }
    return out;
  }

  private static float[] permute(float[] image, int[] permutation) {
    float[] out = new float[image.length];
    for (int i = 0; i < image.length; i++) {
      out[permutation[i]] = image[i];
    }
    return out;
  }

  /** Rotation about the image centre, nearest neighbour, zero outside. */
  /** The pixel that rotation by (cos, sin) about the centre brings to (x, y); 0 outside. */
  private static float sourcePixel(float[] image, double cos, double sin, int x, int y) {
    double c = 13.5;
    int ix = (int) Math.round(cos * (x - c) + sin * (y - c) + c);
    int iy = (int) Math.round(-sin * (x - c) + cos * (y - c) + c);
    return ix >= 0 && ix < 28 && iy >= 0 && iy < 28 ? image[iy * 28 + ix] : 0f;
  }

  static float[] rotate(float[] image, int degrees) {
    if (degrees % 360 == 0) {
      return image.clone();
    }
    double rad = Math.toRadians(degrees);
    double cos = Math.cos(rad);
    double sin = Math.sin(rad);
    float[] out = new float[image.length];
    for (int y = 0; y < 28; y++) {
      for (int x = 0; x < 28; x++) {
        out[y * 28 + x] = sourcePixel(image, cos, sin, x, y);
      }
    }
    return out;
  }
}
