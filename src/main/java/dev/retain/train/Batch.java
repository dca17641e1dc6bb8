package dev.retain.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.retain.record.Example;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.List;

/**
 * Turns examples into input and label arrays through direct buffers reused across calls (a fresh
 * {@code float[]} per call would grow resident memory in a long loop). Not thread-safe: one per
 * training thread.
 */
final class Batch {
  private final int features;
  private ByteBuffer x = ByteBuffer.allocateDirect(0);
  private ByteBuffer y = ByteBuffer.allocateDirect(0);
  private ByteBuffer head = ByteBuffer.allocateDirect(0);
  private ByteBuffer tail = ByteBuffer.allocateDirect(0);
  private ByteBuffer grad = ByteBuffer.allocateDirect(0);

  Batch(int features) {
    this.features = features;
  }

  /** Inputs (n, features) in {@code scope}. */
  NDArray inputs(NDManager scope, List<Example> examples) {
    int n = examples.size();
    x = ensure(x, n * features * Float.BYTES);
    FloatBuffer f = x.asFloatBuffer();
    examples.forEach(e -> e.copyFeaturesTo(f));
    return scope.create(x, new Shape(n, features), DataType.FLOAT32);
  }

  /** Labels (n) as int64 in {@code scope}. */
  NDArray labels(NDManager scope, List<Example> examples) {
    int n = examples.size();
    y = ensure(y, n * Long.BYTES);
    LongBuffer l = y.asLongBuffer();
    examples.forEach(e -> l.put(e.label()));
    return scope.create(y, new Shape(n), DataType.INT64);
  }

  /**
   * Rows of {@code width} floats each, as an (n, width) array in {@code scope}: the first rows of a
   * step's first layer (see {@link #tailRows}).
   */
  NDArray headRows(NDManager scope, List<float[]> rows, int width) {
    head = ensure(head, rows.size() * width * Float.BYTES);
    return rows(scope, head, rows, width);
  }

  /** The same for the last rows, through another buffer: both arrays live through a step. */
  NDArray tailRows(NDManager scope, List<float[]> rows, int width) {
    tail = ensure(tail, rows.size() * width * Float.BYTES);
    return rows(scope, tail, rows, width);
  }

  private static NDArray rows(NDManager scope, ByteBuffer into, List<float[]> rows, int width) {
    FloatBuffer f = into.asFloatBuffer();
    rows.forEach(f::put);
    return scope.create(into, new Shape(rows.size(), width), DataType.FLOAT32);
  }

  /** A loss gradient of {@code n} rows by {@code classes}, in {@code scope}. */
  NDArray gradient(NDManager scope, float[] values, int n, int classes) {
    grad = ensure(grad, values.length * Float.BYTES);
    grad.asFloatBuffer().put(values);
    return scope.create(grad, new Shape(n, classes), DataType.FLOAT32);
  }

  private static ByteBuffer ensure(ByteBuffer buffer, int bytes) {
    ByteBuffer out =
        buffer.capacity() >= bytes
            ? buffer
            : ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    out.clear().limit(bytes);
    return out;
  }
}
