package dev.retain.record;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A label that arrives after the prediction, on the feedback topic (JSON, keyed by model id):
 * {@code {"id": "...", "label": 3}}.
 */
public record Feedback(String id, int label) {
  /** The feedback in {@code json}, or null when it is not one (no id or label). */
  public static Feedback parse(String json) {
    JsonNode node = Prediction.tree(json);
    if (node == null || !node.hasNonNull("id") || !node.hasNonNull("label")) {
      return null;
    }
    return new Feedback(node.get("id").asText(), node.get("label").asInt());
  }

  /** The record's JSON value. */
  public byte[] toJson() {
    com.fasterxml.jackson.databind.node.ObjectNode node =
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    node.put("id", id);
    node.put("label", label);
    return node.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
