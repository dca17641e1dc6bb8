package dev.retain.node;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestService;
import dev.retain.metrics.HttpEndpoint;
import dev.retain.publish.AdapterPublisher;
import dev.retain.publish.AdminHandler;
import dev.retain.train.CandidateHandler;
import dev.retain.train.TrainingLoop;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * What {@code retain run} runs: ingest into the store, the learner on its own thread (unless {@code
 * retain.train.enabled} is false), and the {@code /metrics} endpoint. {@link #close()} stops the
 * learner first (so its last checkpoint lands), then ingest, which closes the store.
 */
public final class LearnerNode implements AutoCloseable {
  private final IngestService ingest;
  private final TrainingLoop learner;
  private final HttpEndpoint endpoint;
  private final AdapterPublisher publisher;
  private final ExampleInbox inbox;
  private boolean closed;

  /**
   * A node that publishes promoted adapters on the adapters topic and serves the admin API (with
   * {@code /metrics}) on the metrics port.
   */
  public LearnerNode(RetainConfig config, PrometheusMeterRegistry registry) {
    this(config, registry, true);
  }

  /**
   * @param publish false: candidates are evaluated but never published (tools and tests of the
   *     learner alone)
   */
  public LearnerNode(RetainConfig config, PrometheusMeterRegistry registry, boolean publish) {
    boolean train = config.getBoolean(RetainConfig.TRAIN_ENABLED);
    inbox = new ExampleInbox(config.getInt(RetainConfig.INGEST_INBOX_CAPACITY));
    ingest = new IngestService(config, train ? inbox : ExampleSink.DISCARD, registry);
    publisher =
        train && publish
            ? new AdapterPublisher(config, ingest.store(), KafkaClients.producer(config), registry)
            : null;
    CandidateHandler handler = publisher == null ? CandidateHandler.NONE : publisher;
    learner =
        train
            ? new TrainingLoop(config, ingest.store(), ingest.state(), inbox, handler, registry)
            : null;
    endpoint =
        new HttpEndpoint(
            config.getString(RetainConfig.METRICS_HOST),
            config.getInt(RetainConfig.METRICS_PORT),
            registry,
            2);
    if (publisher != null) {
      AdminHandler admin =
          new AdminHandler(
              publisher,
              config.getString(RetainConfig.MODEL_ID),
              config.getPassword(RetainConfig.ADMIN_TOKEN).value());
      endpoint.route(admin.path(), admin);
    }
  }

  /** The publishing stage, or null when it is off. */
  public AdapterPublisher publisher() {
    return publisher;
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

  /** Examples ingest has handed to the learner that it has not taken yet. */
  public int inboxSize() {
    return inbox.size();
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
    if (publisher != null) {
      publisher.close();
    }
    endpoint.close();
  }
}
