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
}
