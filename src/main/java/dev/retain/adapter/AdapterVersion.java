package dev.retain.adapter;

import java.util.Map;

/**
 * One adapter version as the registry records it. Immutable; the id is never reused.
 *
 * @param id derived from the model id and the training position ({@link VersionIds})
 * @param parent the champion it was compared with (empty for the first)
 * @param baseHash SHA-256 of the frozen base it adapts
 * @param evaluation holdout accuracy per domain when it was judged
 * @param positions next offset per "topic-partition": everything below was trained on
 * @param steps training steps behind it
 * @param createdAt creation time, epoch milliseconds
 */
public record AdapterVersion(
    String id,
    String model,
    String parent,
    String baseHash,
    Map<String, Double> evaluation,
    Map<String, Long> positions,
    long steps,
    long createdAt) {

  /** Mean accuracy over the evaluated domains. */
  public double averageAccuracy() {
    return evaluation.values().stream()
        .mapToDouble(Double::doubleValue)
        .average()
        .orElse(Double.NaN);
  }
}
