package dev.retain.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.function.DoubleSupplier;
import java.util.function.ToDoubleFunction;

/**
 * Registers one model's meters: each carries the {@code model} tag, then the extra tags given as
 * key, value pairs.
 */
public final class ModelMeters {
  private final MeterRegistry registry;
  private final String model;

  public ModelMeters(MeterRegistry registry, String model) {
    this.registry = registry;
    this.model = model;
  }

  public String model() {
    return model;
  }

  public MeterRegistry registry() {
    return registry;
  }

  private Tags tags(String... more) {
    return Tags.of("model", model).and(more);
  }

  public Counter counter(String name, String description, String... tags) {
    return Counter.builder(name).tags(tags(tags)).description(description).register(registry);
  }

  public Timer timer(String name, String description, String... tags) {
    return Timer.builder(name).tags(tags(tags)).description(description).register(registry);
  }

  /** A gauge in seconds (Prometheus adds the unit to its name), read on each scrape. */
  public void secondsGauge(String name, String description, DoubleSupplier value) {
    Gauge.builder(name, value::getAsDouble)
        .tags(tags())
        .baseUnit("seconds")
        .description(description)
        .register(registry);
  }

  /** A gauge of {@code value}, read on each scrape. */
  public void gauge(String name, String description, DoubleSupplier value, String... tags) {
    Gauge.builder(name, value::getAsDouble)
        .tags(tags(tags))
        .description(description)
        .register(registry);
  }

  /** A gauge of {@code f} applied to {@code target}, which it holds weakly, as Micrometer does. */
  public <T> void gauge(
      String name, String description, T target, ToDoubleFunction<T> f, String... tags) {
    Gauge.builder(name, target, f).tags(tags(tags)).description(description).register(registry);
  }
}
