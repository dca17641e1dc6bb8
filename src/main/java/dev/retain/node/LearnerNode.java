package dev.retain.node;

import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestService;
import dev.retain.metrics.HttpEndpoint;
import dev.retain.train.CandidateHandler;
import dev.retain.train.TrainingLoop;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.function.Function;

/**
 * What {@code retain run} runs: ingest into the store, the learner on its own thread (unless {@code
 * retain.train.enabled} is false), and the {@code /metrics} endpoint. {@link #close()} stops the
 * learner first (so its last checkpoint lands), then ingest, which closes the store.
 */
public final class LearnerNode implements AutoCloseable {
  private final IngestService ingest;
  private final TrainingLoop learner;
  private final HttpEndpoint endpoint;
  private boolean closed;

  /**
   * @param handlers builds the candidate handler (the publishing gate) from the ingest service,
   *     whose store it may use
   */
  public LearnerNode(
      RetainConfig config,
      PrometheusMeterRegistry registry,
      Function<IngestService, CandidateHandler> handlers) {
    boolean train = config.getBoolean(RetainConfig.TRAIN_ENABLED);
    ExampleInbox inbox = new ExampleInbox(config.getInt(RetainConfig.INGEST_INBOX_CAPACITY));
    ingest = new IngestService(config, train ? inbox : ExampleSink.DISCARD, registry);
    learner =
        train
            ? new TrainingLoop(
                config, ingest.store(), ingest.state(), inbox, handlers.apply(ingest), registry)
            : null;
    endpoint =
        new HttpEndpoint(
            config.getString(RetainConfig.METRICS_HOST),
            config.getInt(RetainConfig.METRICS_PORT),
            registry,
            2);
  }

  public LearnerNode start() {
    endpoint.start();
    if (learner != null) {
      learner.start();
    }
    ingest.start();
    return this;
  }

  public IngestService ingest() {
    return ingest;
  }

  /** The learner, or null when training is disabled. */
  public TrainingLoop learner() {
    return learner;
  }

  public int metricsPort() {
    return endpoint.port();
  }

  /** Waits until ingest ends; true when it ended because it was closed. */
  public boolean awaitTermination() throws InterruptedException {
    return ingest.awaitTermination();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (learner != null) {
      learner.close();
    }
    ingest.close();
    endpoint.close();
  }
}
