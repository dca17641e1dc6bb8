package dev.retain.record;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * A served prediction as serving writes it to the predictions topic (JSON, keyed by model id), so
 * that a label arriving later on the feedback topic can be joined to it: {@code {"id", "version",
 * "class", "score", "ts", "features"}}.
 *
 * @param id the example id the client gave (or serving made up)
 * @param version the adapter version that answered
 * @param predicted the class answered
 * @param score its probability
 * @param timestamp when it was answered, epoch milliseconds
 * @param features the input
 */
public record Prediction(
    String id, String version, int predicted, float score, long timestamp, float[] features) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID = "id";
  private static final String VERSION = "version";
  private static final String CLASS = "class";
  private static final String SCORE = "score";
  private static final String TS = "ts";
  private static final String FEATURES = "features";

  /** The JSON form, as UTF-8. */
  public byte[] toJson() {
    ObjectNode value = JSON.createObjectNode();
    value.put(ID, id);
    value.put(VERSION, version);
    value.put(CLASS, predicted);
    value.put(SCORE, score);
    value.put(TS, timestamp);
    ArrayNode array = value.putArray(FEATURES);
    for (float f : features) {
      array.add(f);
    }
    return value.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static boolean has(JsonNode node, String... fields) {
    return node != null && java.util.Arrays.stream(fields).allMatch(node::hasNonNull);
  }

  /** The prediction in {@code json}, or null when it is not one (no id, version or class). */
  public static Prediction parse(String json) {
    JsonNode node = tree(json);
    if (!has(node, ID, VERSION, CLASS)) {
      return null;
    }
    float[] features = floats(node.path(FEATURES));
    return new Prediction(
        node.get(ID).asText(),
        node.get(VERSION).asText(),
        node.get(CLASS).asInt(),
        (float) node.path(SCORE).asDouble(),
        node.path(TS).asLong(),
        features);
  }

  private static float[] floats(JsonNode array) {
    float[] out = new float[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) array.get(i).asDouble();
    }
    return out;
  }

  /** The {@code id} field of a JSON object (a prediction or a feedback), or null. */
  public static String idOf(String json) {
    JsonNode node = tree(json);
    return node != null && node.hasNonNull(ID) ? node.get(ID).asText() : null;
  }

  static JsonNode tree(String json) {
    try {
      JsonNode node = JSON.readTree(json);
      return node != null && node.isObject() ? node : null;
    } catch (IOException e) {
      return null;
    }
  }
}
