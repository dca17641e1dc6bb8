package dev.retain.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reads and writes a model's whole adapter as one host vector, parameter after parameter: one
 * engine copy when the adapter lives in one flat array (an MLP's, whose A and B are views of it),
 * one per parameter otherwise. Writes go through one direct buffer reused across calls: a new one
 * per call would grow resident memory in a long loop.
 */
final class AdapterVector {
  private static final NDIndex EVERYTHING = new NDIndex("...");
  private final NDManager manager;
  private final NDArray flat; // null when the parameters are separate arrays
  private final Supplier<List<NDArray>> parameters;
  private final int size;
  private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

  AdapterVector(NDManager manager, NDArray flat, Supplier<List<NDArray>> parameters) {
    this.manager = manager;
    this.flat = flat;
    this.parameters = parameters;
    this.size = Math.toIntExact(parameters.get().stream().mapToLong(NDArray::size).sum());
  }

  int size() {
    return size;
  }

  float[] read() {
    return flat != null ? Tensors.floats(flat) : Tensors.floats(parameters.get());
  }

  /** Copies {@code values} into the reused direct buffer, growing it when they do not fit. */
  private void fill(float[] values) {
    if (buffer.capacity() < values.length * Float.BYTES) {
      buffer =
          ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
    }
    buffer.clear().limit(values.length * Float.BYTES);
    buffer.asFloatBuffer().put(values);
  }

  void write(float[] values) {
    if (values.length != size) {
      throw new IllegalArgumentException(values.length + " values for " + size);
    }
    fill(values);
    try (NDManager scratch = manager.newSubManager()) {
      NDArray all = scratch.create(buffer, new Shape(values.length), DataType.FLOAT32);
      if (flat != null) {
        flat.set(EVERYTHING, all);
      } else {
        writeEach(all);
      }
    }
  }

  private void writeEach(NDArray all) {
    long offset = 0;
    for (NDArray p : parameters.get()) {
      try (NDArray detached = p.stopGradient()) { // a parameter is a leaf that autograd tracks
        detached.set(EVERYTHING, Tensors.view(all, offset, p.getShape()));
      }
      offset += p.size();
    }
  }
}
