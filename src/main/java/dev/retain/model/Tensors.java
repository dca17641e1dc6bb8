package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/** Conversions between engine arrays and {@link SafeTensors.Tensor}s. */
public final class Tensors {
  private static final NDIndex EVERYTHING = new NDIndex("...");

  private Tensors() {}

  /**
   * The part of the one-dimensional {@code flat} from {@code offset}, as an array of {@code shape}
   * that shares its memory (a write to either shows in the other).
   */
  public static NDArray view(NDArray flat, long offset, Shape shape) {
    return flat.get(new NDIndex("{}:{}", offset, offset + shape.size())).reshape(shape);
  }

  /** A copy of {@code array}'s values (float32) with its shape. */
  public static SafeTensors.Tensor of(NDArray array) {
    return new SafeTensors.Tensor(array.getShape().getShape(), floats(array));
  }

  /**
   * A copy of {@code array}'s values (float32), row after row. Reads the engine's memory in place
   * where it can (a contiguous array on the CPU): {@code toFloatArray} first copies into a new
   * direct buffer, whose allocation cost several times the copy in the learner's step.
   */
  public static float[] floats(NDArray array) {
    FloatBuffer values = array.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
    float[] out = new float[values.remaining()];
    values.get(out);
    return out;
  }

  /** The values of {@code arrays} (float32), one after the other, as one host vector. */
  public static float[] floats(List<NDArray> arrays) {
    float[] out = new float[Math.toIntExact(arrays.stream().mapToLong(NDArray::size).sum())];
    int offset = 0;
    for (NDArray array : arrays) {
      float[] part = floats(array);
      System.arraycopy(part, 0, out, offset, part.length);
      offset += part.length;
    }
    return out;
  }

  /** A new array in {@code manager} holding {@code tensor}. */
  public static NDArray create(NDManager manager, SafeTensors.Tensor tensor) {
    return manager.create(tensor.data(), new Shape(tensor.shape()));
  }

  /**
   * Overwrites {@code target} in place with {@code tensor} (same shape), keeping the array itself,
   * so optimizer and gradient bookkeeping that refer to it stay valid.
   */
  public static void assign(NDArray target, SafeTensors.Tensor tensor) {
    if (!Arrays.equals(target.getShape().getShape(), tensor.shape())) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(tensor.shape()) + " does not match " + target.getShape());
    }
    try (NDManager scratch = target.getManager().newSubManager();
        NDArray view = target.stopGradient()) {
      // the detached view shares the storage, so this writes the parameter without autograd
      // refusing an in-place change of a leaf; a copy, not "times 0 plus", so that NaN in the old
      // values (a diverged adapter being reset) does not survive
      view.set(EVERYTHING, create(scratch, tensor));
    }
  }

  /** The tensor called {@code name}; fails with its name when missing. */
  public static SafeTensors.Tensor require(Map<String, SafeTensors.Tensor> tensors, String name) {
    SafeTensors.Tensor t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("missing tensor " + name);
    }
    return t;
  }

  /** Hex SHA-256 of {@code bytes}. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** Hex SHA-256 of {@code text} in UTF-8. */
  public static String sha256(String text) {
    return sha256(text.getBytes(StandardCharsets.UTF_8));
  }
}
