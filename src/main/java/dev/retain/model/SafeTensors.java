package dev.retain.model;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The safetensors format (as written by Hugging Face's {@code safetensors}): an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype, shape and byte range (plus
 * an optional {@code __metadata__} map of strings), then the raw little-endian data. Only F32
 * tensors are written or read; that is all Retain stores. Tensors are written in name order so that
 * equal content gives equal bytes.
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "__metadata__";

  /** One float tensor: its shape and its values in row-major order. */
  public record Tensor(long[] shape, float[] data) {
    public Tensor {
      Objects.requireNonNull(shape, "shape");
      Objects.requireNonNull(data, "data");
      if (Arrays.stream(shape).reduce(1, Math::multiplyExact) != data.length) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " does not hold " + data.length + " values");
      }
    }
  }

  /** Tensors by name and string metadata, as read from or written to one file. */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

  /** The name of the first tensor holding a NaN or infinite value, or null when all are finite. */
  public static String firstNonFinite(Map<String, Tensor> tensors) {
    for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
      for (float v : entry.getValue().data()) {
        if (!Float.isFinite(v)) {
          return entry.getKey();
        }
      }
    }
    return null;
  }

  private SafeTensors() {}

  /** Encodes {@code tensors} with {@code metadata} (may be empty). */
  public static byte[] write(Map<String, Tensor> tensors, Map<String, String> metadata) {
    Map<String, Object> header = new LinkedHashMap<>();
    if (!metadata.isEmpty()) {
      header.put(METADATA, new java.util.TreeMap<>(metadata));
    }
    long offset = 0;
    List<String> names = tensors.keySet().stream().sorted().toList();
    for (String name : names) {
      Tensor t = tensors.get(name);
      long end = offset + (long) t.data().length * Float.BYTES;
      Map<String, Object> spec = new LinkedHashMap<>();
      spec.put("dtype", "F32");
      spec.put("shape", t.shape());
      spec.put("data_offsets", List.of(offset, end));
      header.put(name, spec);
      offset = end;
    }
    byte[] json = headerBytes(header);
    ByteBuffer out =
        ByteBuffer.allocate(Math.toIntExact(8 + json.length + offset))
            .order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(json.length).put(json);
    writeData(out, names, tensors);
    return out.array();
  }

  private static void writeData(ByteBuffer out, List<String> names, Map<String, Tensor> tensors) {
    for (String name : names) {
      for (float v : tensors.get(name).data()) {
        out.putFloat(v);
      }
    }
  }

  /** The JSON header padded with spaces to a multiple of 8 bytes, as the reference writer does. */
  private static byte[] headerBytes(Map<String, Object> header) {
    try {
      byte[] json = JSON.writeValueAsBytes(header);
      int padded = (json.length + 7) / 8 * 8;
      byte[] out = Arrays.copyOf(json, padded);
      Arrays.fill(out, json.length, padded, (byte) ' ');
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Decodes a safetensors file; fails on anything but F32 tensors or an inconsistent header. */
  private static long headerLength(ByteBuffer in, int size) {
    long headerLength = in.getLong();
    if (headerLength < 2 || headerLength > size - 8) {
      throw new IllegalArgumentException("bad safetensors header length " + headerLength);
    }
    return headerLength;
  }

  public static Contents read(byte[] bytes) {
    ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = headerLength(in, bytes.length);
    Map<String, Object> header = parseHeader(bytes, (int) headerLength);
    int dataStart = 8 + (int) headerLength;
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    header.forEach(
        (name, spec) -> {
          if (!name.equals(METADATA)) {
            tensors.put(name, tensor(name, spec, in, dataStart));
          }
        });
    return new Contents(tensors, metadata(header));
  }

  private static Map<String, String> metadata(Map<String, Object> header) {
    Map<String, String> metadata = new LinkedHashMap<>();
    ((Map<?, ?>) header.getOrDefault(METADATA, Map.of()))
        .forEach((k, v) -> metadata.put((String) k, (String) v));
    return metadata;
  }

  private static Map<String, Object> parseHeader(byte[] bytes, int length) {
    try {
      return JSON.readValue(
          new String(bytes, 8, length, StandardCharsets.UTF_8).trim(),
          new TypeReference<LinkedHashMap<String, Object>>() {});
    } catch (IOException e) {
      throw new IllegalArgumentException("unparsable safetensors header: " + e.getMessage(), e);
    }
  }

  private static long[] longs(List<?> values) {
    return values.stream().mapToLong(v -> ((Number) v).longValue()).toArray();
  }

  private static Tensor tensor(String name, Object spec, ByteBuffer in, int dataStart) {
    Map<?, ?> info = (Map<?, ?>) spec;
    if (!"F32".equals(info.get("dtype"))) {
      throw new IllegalArgumentException(name + ": dtype " + info.get("dtype") + " is not F32");
    }
    long[] shape = longs((List<?>) info.get("shape"));
    List<?> offsets = (List<?>) info.get("data_offsets");
    int begin = dataStart + ((Number) offsets.get(0)).intValue();
    int end = dataStart + ((Number) offsets.get(1)).intValue();
    if (end > in.capacity() || begin > end || (end - begin) % Float.BYTES != 0) {
      throw new IllegalArgumentException(name + ": bad data offsets " + offsets);
    }
    float[] data = new float[(end - begin) / Float.BYTES];
    in.slice(begin, end - begin).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
    return new Tensor(shape, data);
  }
}
