package dev.retain.node;

import dev.retain.config.RetainConfig;
import dev.retain.http.HttpServer;
import dev.retain.http.Limits;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestService;
import dev.retain.publish.AdapterPublisher;
import dev.retain.publish.AdminHandler;
import dev.retain.train.CandidateHandler;
import dev.retain.train.TrainedPositions;
import dev.retain.train.TrainingLoop;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;

/**
 * What {@code retain run} runs: ingest into the store, the learner on its own thread (unless {@code
 * retain.train.enabled} is false), and the {@code /metrics} endpoint. {@link #close()} stops the
 * learner first (so its last checkpoint lands), then ingest, which closes the store.
 */
public final class LearnerNode implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LearnerNode.class);
  private final IngestService ingest;
  private final TrainingLoop learner;
  private final HttpServer endpoint;
  private final AdapterPublisher publisher;
  private final ExampleInbox inbox;
  private final HttpServer adminEndpoint; // null without publishing
  private volatile boolean closed;

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
    publisher = train && publish ? AdapterPublisher.fenced(config, ingest.store(), registry) : null;
    CandidateHandler handler = publisher == null ? CandidateHandler.NONE : publisher;
    learner =
        train
            ? new TrainingLoop(config, ingest.store(), ingest.state(), inbox, handler, registry)
            : null;
    Gauge.builder("retain.worker.up", ingest, w -> w.isAlive() ? 1 : 0)
        .tags("model", config.getString(RetainConfig.MODEL_ID), "worker", "ingest")
        .description("1 while the worker thread runs, 0 once it stopped")
        .register(registry);
    if (learner != null) {
      Gauge.builder("retain.worker.up", learner, w -> w.isAlive() ? 1 : 0)
          .tags("model", config.getString(RetainConfig.MODEL_ID), "worker", "learner")
          .description("1 while the worker thread runs, 0 once it stopped")
          .register(registry);
    }
    endpoint =
        new HttpServer(
                config.getString(RetainConfig.METRICS_HOST),
                config.getInt(RetainConfig.METRICS_PORT),
                Limits.of(config, 2, 64 << 10))
            .metrics(registry)
            .health(this::live, this::notReady, "/health");
    if (publisher != null) {
      AdminHandler admin =
          new AdminHandler(publisher, config.getString(RetainConfig.MODEL_ID), config.adminToken());
      adminEndpoint =
          new HttpServer(
                  config.getString(RetainConfig.ADMIN_HOST),
                  config.getInt(RetainConfig.ADMIN_PORT),
                  Limits.of(config, 2, 64 << 10))
              .prefix(admin.path(), admin);
    } else {
      adminEndpoint = null;
    }
  }

  /** Live while no worker has stopped by itself. */
  private boolean live() {
    return closed || (ingest.isAlive() && (learner == null || learner.isAlive()));
  }

  /**
   * Null when ready: ingest running (so the store is open) with partitions assigned, and the
   * learner running and ready.
   */
  private String notReady() {
    if (!ingest.isAlive()) {
      return "ingest is not running";
    }
    if (ingest.loop().assignedPartitions() == 0) {
      return "no partition of the examples topic assigned yet";
    }
    if (learner != null && !learner.isAlive()) {
      return "the learner stopped: " + learner.failure();
    }
    if (learner != null && !learner.isReady()) {
      return "the learner is not ready (loading or pretraining its base)";
    }
    return null;
  }

  private void claimPublishing() {
    try {
      publisher.claim();
    } catch (RuntimeException e) {
      LOG.error("cannot take over publishing: {}", e.getMessage(), e);
    }
  }

  /** The publishing stage, or null when it is off. */
  public AdapterPublisher publisher() {
    return publisher;
  }

  public LearnerNode start() {
    endpoint.start();
    if (adminEndpoint != null) {
      adminEndpoint.start();
    }
    if (publisher != null) {
      // publish only once the group gave this learner the model's partitions: a second learner
      // in the group never fences the owner; the one that gets them fences any earlier publisher
      ingest.loop().onAssigned(this::claimPublishing);
    }
    startLearner();
    ingest.start();
    return this;
  }

  /** Ingest gives the learner what it stored but did not train on before a restart. */
  private void startLearner() {
    if (learner != null) {
      Map<TopicPartition, Long> trained =
          TrainedPositions.of(ingest.store(), ingest.state().model());
      ingest.loop().resumeTrainingFrom(trained::get);
      learner.start();
    }
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

  /** The admin API's port (rollback, versions); -1 without publishing. */
  public int adminPort() {
    return adminEndpoint == null ? -1 : adminEndpoint.port();
  }

  /**
   * Waits until ingest ends or the learner stops by itself; true when everything ended because it
   * was closed. A learner that stopped on a failure (logged as an ERROR with its stack) makes this
   * return false, so that {@code retain run} exits non-zero and the platform restarts it.
   */
  public boolean awaitTermination() throws InterruptedException {
    while (ingest.isAlive()) {
      if (learner != null && !learner.isAlive() && !closed) {
        System.err.println("the learner stopped: " + learner.failure());
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(200); // supervision cadence; the workers' state decides
    }
    return ingest.awaitTermination() && (learner == null || learner.failure() == null);
  }

  private static void closeIfAny(AutoCloseable closeable) {
    try {
      if (closeable != null) {
        closeable.close();
      }
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    closeIfAny(learner);
    ingest.close();
    closeIfAny(publisher);
    closeIfAny(adminEndpoint);
    endpoint.close();
  }
}
