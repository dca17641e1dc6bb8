package dev.retain.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;

/** Meters of the serving endpoint, tagged with the model id (and the version that answered). */
final class ServeMetrics {
  private final MeterRegistry registry;
  private final String model;
  private final Timer latency;
  private final java.util.Map<String, Counter> byVersion =
      new java.util.concurrent.ConcurrentHashMap<>();

  ServeMetrics(MeterRegistry registry, String model) {
    this.registry = registry;
    this.model = model;
    latency =
        Timer.builder("retain.serve.request.duration")
            .tag("model", model)
            .description("Prediction request handling, parse to response written")
            .publishPercentiles(0.5, 0.99)
            .publishPercentileHistogram()
            .register(registry);
  }

  void served(String version, int predictions, long nanos) {
    latency.record(nanos, TimeUnit.NANOSECONDS);
    byVersion
        .computeIfAbsent(
            version,
            v ->
                Counter.builder("retain.serve.predictions")
                    .tags("model", model, "version", v)
                    .description("Predictions served, by the adapter version that made them")
                    .register(registry))
        .increment(predictions);
  }

  void error(int status) {
    Counter.builder("retain.serve.errors")
        .tags("model", model, "status", Integer.toString(status))
        .description("Requests answered with an error, by HTTP status")
        .register(registry)
        .increment();
  }
}
