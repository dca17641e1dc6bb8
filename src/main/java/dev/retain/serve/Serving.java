package dev.retain.serve;

import dev.retain.http.Call;

/**
 * What both prediction formats answer from: the follower's current model, the model id, the batch
 * limit, the meters and the prediction log.
 */
record Serving(
    AdapterFollower follower, String model, int maxBatch, ServeMetrics metrics, PredictionLog log) {

  /** The model's version serving now, or null before its first. */
  ServingModel current() {
    return follower.current(model);
  }

  /** An error answer, counted by status. */
  void error(Call call, int status, String message) {
    metrics.error(status);
    call.error(status, message);
  }
}
