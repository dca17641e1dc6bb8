package dev.retain.publish;

import dev.retain.adapter.AdapterVersion;
import dev.retain.metrics.ModelMeters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Map;

/** Meters of the publishing stage, tagged with the model id. */
final class PublishMetrics {
  private static final String CHAMPION_ACCURACY = "retain.adapter.champion.accuracy";
  private static final String CHAMPION_ACCURACY_HELP =
      "The champion's holdout accuracy on the domain when promoted";
  private static final String BEST_ACCURACY = "retain.adapter.champion.best.accuracy";
  private static final String BEST_ACCURACY_HELP =
      "The best holdout accuracy any promoted version had on the domain";

  private final MeterRegistry registry;
  private final String model;
  private final Counter published;
  private final Counter rollbacks;
  private final Map<PromotionGate.Reason, Counter> rejected =
      new EnumMap<>(PromotionGate.Reason.class);
  private Meter current;
  private volatile double championAverage = Double.NaN;
  private volatile double championSteps = Double.NaN;
  private volatile double lastPromotion = Double.NaN;
  // per domain: the champion's accuracy when promoted, and the best any promoted version had
  private final Map<String, double[]> byDomain = new java.util.concurrent.ConcurrentHashMap<>();

  PublishMetrics(MeterRegistry registry, String model, Registry versions) {
    this.registry = registry;
    this.model = model;
    ModelMeters meters = new ModelMeters(registry, model);
    published =
        meters.counter("retain.adapters.published", "Adapter versions promoted and published");
    rollbacks = meters.counter("retain.adapters.rollbacks", "Rollbacks to an earlier version");
    for (PromotionGate.Reason reason : PromotionGate.Reason.values()) {
      String about = "Candidates the promotion gate rejected, by reason";
      rejected.put(
          reason, meters.counter("retain.adapters.rejected", about, "reason", reason.tag()));
    }
    meters.gauge(
        "retain.adapter.champion.average.accuracy",
        "Average holdout accuracy of the champion when it was promoted",
        this,
        m -> m.championAverage);
    meters.gauge(
        "retain.adapter.champion.steps",
        "Training steps behind the champion (grows with each promotion)",
        this,
        m -> m.championSteps);
    Gauge.builder("retain.adapter.last.promotion.timestamp", this, m -> m.lastPromotion)
        .tag("model", model)
        .baseUnit("seconds")
        .description("When the champion was promoted or rolled back to (Unix time)")
        .register(registry);
    restore(versions);
  }

  /** The figures of the versions promoted before this process started. */
  private void restore(Registry versions) {
    for (AdapterVersion earlier : versions.history()) {
      earlier.evaluation().forEach((domain, accuracy) -> best(domain, accuracy));
    }
    AdapterVersion champion = versions.champion();
    if (champion != null) {
      champion(champion);
      lastPromotion = champion.createdAt() / 1000.0; // a restart is not a promotion
    }
  }

  /** Raises the best accuracy seen on {@code domain}; registers its gauges on first sight. */
  /** The champion's and the best accuracy on {@code domain}, as gauges read them. */
  private double[] domainGauges(String domain) {
    double[] v = {Double.NaN, Double.NaN};
    ModelMeters meters = new ModelMeters(registry, model);
    meters.gauge(CHAMPION_ACCURACY, CHAMPION_ACCURACY_HELP, () -> v[0], "domain", domain);
    meters.gauge(BEST_ACCURACY, BEST_ACCURACY_HELP, () -> v[1], "domain", domain);
    return v;
  }

  private void best(String domain, double accuracy) {
    double[] values = byDomain.computeIfAbsent(domain, this::domainGauges);
    if (!(values[1] >= accuracy)) {
      values[1] = accuracy;
    }
  }

  void rejected(PromotionGate.Reason reason) {
    rejected.get(reason).increment();
  }

  void promoted(AdapterVersion version) {
    published.increment();
    champion(version);
  }

  void rolledBack(AdapterVersion version) {
    rollbacks.increment();
    champion(version);
  }

  /** The champion as an info gauge (value 1, the version as a tag), replacing the previous one. */
  private void championOn(String domain, double accuracy) {
    best(domain, accuracy);
    byDomain.get(domain)[0] = accuracy;
  }

  private synchronized void champion(AdapterVersion version) {
    if (current != null) {
      registry.remove(current);
    }
    current =
        Gauge.builder("retain.adapter.version", () -> 1)
            .tags("model", model, "version", version.id())
            .description("The champion adapter version (value 1, version in the tag)")
            .register(registry);
    version.evaluation().forEach(this::championOn);
    championAverage = version.averageAccuracy();
    championSteps = version.steps();
    lastPromotion = (current == null ? version.createdAt() : System.currentTimeMillis()) / 1000.0;
  }
}
