package dev.retain.serve;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.http.HttpServer;
import dev.retain.http.Limits;
import dev.retain.metrics.ModelMeters;
import dev.retain.streams.FeedbackExamples;
import dev.retain.streams.OnlineAccuracy;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.producer.Producer;

/**
 * What {@code retain serve} runs: the adapter follower and the HTTP endpoint (predictions, model
 * info and {@code /metrics}) on {@code retain.serve.host:port}, 127.0.0.1 by default.
 */
public final class ServeNode implements AutoCloseable {
  private final AdapterFollower follower;
  private final HttpServer endpoint;
  private final ModelRoutes routes;
  private final Producer<byte[], byte[]> predictions; // null: predictions are not logged
  private final Producer<byte[], byte[]> detections; // null: inputs are not watched
  private final OnlineAccuracy online;
  private final FeedbackExamples examples; // null unless predictions are logged and it is enabled
  private final String model;
  private boolean closed;

  public ServeNode(RetainConfig config, PrometheusMeterRegistry registry) {
    model = config.getString(RetainConfig.MODEL_ID);
    follower = new AdapterFollower(config, registry);
    boolean logged = config.getBoolean(RetainConfig.SERVE_PREDICTIONS);
    predictions = logged ? KafkaClients.producer(config) : null;
    detections =
        config.getBoolean(RetainConfig.DRIFT_INPUT_ENABLED)
            ? KafkaClients.boundedProducer(config, 1000)
            : null;
    online = logged ? new OnlineAccuracy(registry, model, config::serves).start(config) : null;
    examples =
        logged && config.getBoolean(RetainConfig.FEEDBACK_EXAMPLES)
            ? new FeedbackExamples(config, registry).start()
            : null;
    routes = new ModelRoutes(follower, model, m -> context(config, registry, m)).serve(model);
    workerGauge(registry, "adapter-follower", follower::isAlive);
    if (online != null) {
      workerGauge(registry, "online-accuracy", online::isRunning);
    }
    if (examples != null) {
      workerGauge(registry, "feedback-examples", examples::isRunning);
    }
    endpoint =
        new HttpServer(
                config.getString(RetainConfig.SERVE_HOST),
                config.getInt(RetainConfig.SERVE_PORT),
                Limits.of(
                    config,
                    config.getInt(RetainConfig.SERVE_THREADS),
                    config.getInt(RetainConfig.SERVE_MAX_REQUEST_BYTES)))
            .metrics(registry)
            .route("/v1/models", routes)
            .prefix("/v1/models/", routes)
            .prefix("/v2/models/", routes)
            .health(follower::isAlive, this::notReady, "/health", "/v2/health");
  }

  /** A model's serving context: its meters, and its prediction log with its input monitor. */
  private Serving context(RetainConfig config, PrometheusMeterRegistry registry, String name) {
    InputMonitor inputs =
        detections == null
            ? null
            : new InputMonitor(config, new ModelMeters(registry, name), detections);
    PredictionLog log = new PredictionLog(predictions, config.predictionsTopic(), name, inputs);
    int maxBatch = config.getInt(RetainConfig.SERVE_MAX_BATCH);
    return new Serving(follower, name, maxBatch, new ServeMetrics(registry, name), log);
  }

  private void workerGauge(PrometheusMeterRegistry registry, String worker, BooleanSupplier up) {
    io.micrometer.core.instrument.Gauge.builder(
            "retain.worker.up", up, u -> u.getAsBoolean() ? 1 : 0)
        .tags("model", model, "worker", worker)
        .description("1 while the worker thread runs, 0 once it stopped")
        .strongReference(true) // the supplier is a method reference only the gauge holds
        .register(registry);
  }

  /**
   * Null while every worker runs (the adapter follower; the online-accuracy topology and the
   * feedback join when predictions are logged); else which one stopped. {@code retain serve} exits
   * non-zero then, so that the platform restarts it.
   */
  public synchronized String stoppedWorker() {
    return closed ? null : stopped();
  }

  private String stopped() {
    if (!follower.isAlive()) {
      return "the adapter follower stopped";
    }
    if (examples != null && !examples.isRunning()) {
      return "the feedback join stopped";
    }
    return online != null && !online.isRunning() ? "the online-accuracy topology stopped" : null;
  }

  /**
   * Null when serving can answer; else why not: a worker stopped, or no version loaded yet (of each
   * model retain.serve.models names, or of any model when it names every one).
   */
  private String notReady() {
    String stopped = stopped();
    if (stopped != null) {
      return stopped;
    }
    if (follower.named().isEmpty()) {
      return follower.models().isEmpty() ? "no adapter version loaded yet" : null;
    }
    for (String name : follower.named()) {
      if (follower.current(name) == null) {
        return "no adapter version of " + name + " loaded yet";
      }
    }
    return null;
  }

  public ServeNode start() {
    follower.start();
    endpoint.start();
    return this;
  }

  public int port() {
    return endpoint.port();
  }

  /** The feedback join, or null when predictions are not logged. */
  public OnlineAccuracy online() {
    return online;
  }

  public AdapterFollower follower() {
    return follower;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    endpoint.close();
    follower.close();
    routes.close();
    if (predictions != null) {
      predictions.close();
    }
    if (detections != null) {
      detections.close();
    }
    if (online != null) {
      online.close();
    }
    if (examples != null) {
      examples.close();
    }
  }
}
