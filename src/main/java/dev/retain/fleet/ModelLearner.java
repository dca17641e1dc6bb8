package dev.retain.fleet;

import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleInbox;
import dev.retain.publish.AdapterPublisher;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.train.StepSlots;
import dev.retain.train.TrainingLoop;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * One model of a fleet instance: its inbox, its learner (which shares the instance's step slots)
 * and its fenced publisher, over its partition's store.
 */
final class ModelLearner implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelLearner.class);
  private final ExampleInbox inbox;
  private final TrainingLoop learner;
  private final AdapterPublisher publisher;

  ModelLearner(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      MeterRegistry registry,
      StepSlots slots) {
    RetainConfig own = config.forModel(state.model());
    inbox = new ExampleInbox(own.getInt(RetainConfig.INGEST_INBOX_CAPACITY));
    publisher = AdapterPublisher.fenced(own, store, registry);
    learner = new TrainingLoop(own, store, state, inbox, publisher, registry, slots);
    io.micrometer.core.instrument.Gauge.builder(
            "retain.worker.up", learner, w -> w.isAlive() ? 1 : 0)
        .tags("model", state.model(), "worker", "learner")
        .description("1 while the worker thread runs, 0 once it stopped")
        .register(registry);
  }

  /**
   * Starts the learner, and on {@code background} takes over publishing the model (fencing its
   * earlier publisher, wherever it ran, and publishing the champion again), so that neither ingest
   * nor the learner's start waits for it; the first publication waits for it if need be.
   */
  ModelLearner start(java.util.concurrent.Executor background) {
    learner.start();
    background.execute(this::claim);
    return this;
  }

  private void claim() {
    try {
      publisher.claim();
    } catch (RuntimeException e) {
      LOG.error("cannot take over publishing {}: {}", learner, e.getMessage(), e);
    }
  }

  ExampleInbox inbox() {
    return inbox;
  }

  TrainingLoop learner() {
    return learner;
  }

  AdapterPublisher publisher() {
    return publisher;
  }

  /** Stops the learner, then the publisher. */
  @Override
  public void close() {
    learner.close();
    publisher.close();
  }
}
