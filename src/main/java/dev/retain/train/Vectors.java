package dev.retain.train;

import dev.retain.model.SafeTensors;
import dev.retain.model.Tensors;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host vectors laid out as a list of parameters, one after the other: the learner's adapter, its
 * gradient, Adam's moments and the EWC state. Checkpoints keep them per parameter.
 */
final class Vectors {
  private Vectors() {}

  /** {@code vector} cut into tensors named {@code prefix + i}, of {@code shapes} in order. */
  static Map<String, SafeTensors.Tensor> split(String prefix, float[] vector, List<long[]> shapes) {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    int offset = 0;
    for (int i = 0; i < shapes.size(); i++) {
      int size = Math.toIntExact(Arrays.stream(shapes.get(i)).reduce(1, (a, b) -> a * b));
      out.put(
          prefix + i,
          new SafeTensors.Tensor(shapes.get(i), Arrays.copyOfRange(vector, offset, offset + size)));
      offset += size;
    }
    return out;
  }

  /**
   * Fills {@code vector} from the tensors {@code prefix + i} that {@link #split} wrote; each must
   * be present with its shape.
   */
  static void join(
      Map<String, SafeTensors.Tensor> tensors, String prefix, List<long[]> shapes, float[] vector) {
    int offset = 0;
    for (int i = 0; i < shapes.size(); i++) {
      SafeTensors.Tensor tensor = Tensors.require(tensors, prefix + i);
      if (!Arrays.equals(tensor.shape(), shapes.get(i))) {
        String shape = Arrays.toString(tensor.shape());
        String expected = Arrays.toString(shapes.get(i));
        throw new IllegalArgumentException(
            prefix + i + " has shape " + shape + ", expected " + expected);
      }
      System.arraycopy(tensor.data(), 0, vector, offset, tensor.data().length);
      offset += tensor.data().length;
    }
  }

  /** True when every value of {@code values} is finite. */
  static boolean allFinite(float[] values) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }
}
