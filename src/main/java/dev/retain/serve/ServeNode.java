package dev.retain.serve;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.http.HttpServer;
import dev.retain.http.Limits;
import dev.retain.metrics.ModelMeters;
import dev.retain.streams.FeedbackExamples;
import dev.retain.streams.OnlineAccuracy;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * What {@code retain serve} runs: the adapter follower and the HTTP endpoint (predictions, model
 * info and {@code /metrics}) on {@code retain.serve.host:port}, 127.0.0.1 by default.
 */
public final class ServeNode implements AutoCloseable {
  private final AdapterFollower follower;
  private final HttpServer endpoint;
  private final PredictionLog log;
  private final OnlineAccuracy online;
  private final FeedbackExamples examples; // null unless predictions are logged and it is enabled
  private boolean closed;

  public ServeNode(RetainConfig config, PrometheusMeterRegistry registry) {
    String model = config.getString(RetainConfig.MODEL_ID);
    follower = new AdapterFollower(config, registry);
    InputMonitor inputs =
        config.getBoolean(RetainConfig.DRIFT_INPUT_ENABLED)
            ? new InputMonitor(
                config,
                new ModelMeters(registry, model),
                KafkaClients.boundedProducer(config, 1000))
            : null;
    log =
        new PredictionLog(
            config.getBoolean(RetainConfig.SERVE_PREDICTIONS)
                ? KafkaClients.producer(config)
                : null,
            config.predictionsTopic(),
            model,
            inputs);
    online =
        config.getBoolean(RetainConfig.SERVE_PREDICTIONS)
            ? new OnlineAccuracy(registry, model).start(config)
            : null;
    examples =
        config.getBoolean(RetainConfig.SERVE_PREDICTIONS)
                && config.getBoolean(RetainConfig.FEEDBACK_EXAMPLES)
            ? new FeedbackExamples(config, registry).start()
            : null;
    ServeMetrics metrics = new ServeMetrics(registry, model);
    int maxBatch = config.getInt(RetainConfig.SERVE_MAX_BATCH);
    Serving serving = new Serving(follower, model, maxBatch, metrics, log);
    PredictHandler predict = new PredictHandler(serving);
    InferHandler infer = new InferHandler(serving);
    io.micrometer.core.instrument.Gauge.builder(
            "retain.worker.up", follower, f -> f.isAlive() ? 1 : 0)
        .tags("model", model, "worker", "adapter-follower")
        .description("1 while the worker thread runs, 0 once it stopped")
        .register(registry);
    if (online != null) {
      io.micrometer.core.instrument.Gauge.builder(
              "retain.worker.up", online, o -> o.isRunning() ? 1 : 0)
          .tags("model", model, "worker", "online-accuracy")
          .description("1 while the worker thread runs, 0 once it stopped")
          .register(registry);
    }
    if (examples != null) {
      io.micrometer.core.instrument.Gauge.builder(
              "retain.worker.up", examples, e -> e.isRunning() ? 1 : 0)
          .tags("model", model, "worker", "feedback-examples")
          .description("1 while the worker thread runs, 0 once it stopped")
          .register(registry);
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
            .route(predict.path(), predict)
            .prefix(predict.path() + "/", predict)
            .route(infer.path(), infer)
            .route(infer.path() + "/infer", infer)
            .health(follower::isAlive, this::notReady, "/health", "/v2/health")
            .route(infer.path() + "/ready", call -> HttpServer.check(call, notReady()));
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

  /** Null when a version is loaded and serving can answer; else why not. */
  private String notReady() {
    String stopped = stopped();
    return stopped != null
        ? stopped
        : follower.current() == null ? "no adapter version loaded yet" : null;
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
    log.close();
    if (online != null) {
      online.close();
    }
    if (examples != null) {
      examples.close();
    }
  }
}
