package dev.retain.fleet;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestLoop;
import dev.retain.ingest.Lanes;
import dev.retain.store.Blob;
import dev.retain.store.Changelog;
import dev.retain.store.ModelState;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreFencedException;
import dev.retain.train.StepSlots;
import dev.retain.train.TrainedPositions;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a fleet instance runs for one partition of the examples topic it owns: the partition's
 * store, restored from and mirrored to the same partition of the changelog topic; ingest of the
 * partition into it; and a learner per model whose records arrive there. Opening it fences the
 * partition's earlier owner; closing it stops the learners (their last checkpoints land), then
 * ingest (its last commit lands), then the store.
 */
final class PartitionTask implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PartitionTask.class);
  private final TopicPartition partition;
  private final MeterRegistry registry;
  private final RetainStore store;
  private final IngestLoop loop;
  private final Thread thread;
  private final Map<String, ModelLearner> learners = new ConcurrentHashMap<>();
  // takes over models' publishing and closes idle models, off the ingest thread
  private final java.util.concurrent.ExecutorService background;
  private final long openedNanos = System.nanoTime();
  private volatile Throwable failure;

  PartitionTask(RetainConfig config, int partition, MeterRegistry registry, StepSlots slots) {
    this.partition = new TopicPartition(config.examplesTopic(), partition);
    this.background = backgroundThread("retain-models-" + partition);
    this.registry = registry;
    store = openStore(config, partition);
    Lanes lanes = Lanes.perModel(config, store, registry, state -> sink(config, state, slots));
    loop =
        new IngestLoop(
            config,
            store,
            lanes,
            KafkaClients.partitionConsumer(config),
            KafkaClients.producer(config),
            this.partition);
    loop.resumeTrainingFrom(trainedByModel(store));
    lanes.evictor(new IdleModels());
    thread = new Thread(loop, "retain-ingest-" + partition);
    thread.setUncaughtExceptionHandler((t, e) -> stopped(e));
  }

  private static java.util.concurrent.ExecutorService backgroundThread(String name) {
    return java.util.concurrent.Executors.newSingleThreadExecutor(
        r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
  }

  /** The partition's store, restored from its changelog partition (the previous owner fenced). */
  private static RetainStore openStore(RetainConfig config, int partition) {
    Changelog changelog =
        new Changelog(
            KafkaClients.changelogProducer(config, partition),
            () -> KafkaClients.changelogReader(config),
            new TopicPartition(config.changelogTopic(), partition));
    Path dir = Path.of(config.getString(RetainConfig.STORE_DIR), "partition-" + partition);
    return RetainStore.open(dir, config.getBoolean(RetainConfig.STORE_SYNC), changelog);
  }

  /** Where a model's examples go: its learner's inbox, started on its first record. */
  private ExampleSink sink(RetainConfig config, ModelState state, StepSlots slots) {
    if (!config.getBoolean(RetainConfig.TRAIN_ENABLED)) {
      return ExampleSink.DISCARD;
    }
    return learners
        .computeIfAbsent(
            state.model(), m -> new ModelLearner(config, store, state, registry, slots))
        .start(background)
        .inbox();
  }

  private void stopped(Throwable e) {
    failure = e;
    if (e instanceof StoreFencedException) {
      LOG.warn("{}: {}", partition, e.getMessage());
    } else {
      LOG.error("ingest of {} stopped: {}", partition, e.getMessage(), e);
    }
  }

  /**
   * Closes the learners of models idle for {@code retain.fleet.model.idle.ms}: only once each has
   * trained on and consolidated all it was given. Closing waits for the learner's thread, so it
   * happens on a thread of its own rather than on ingest's.
   */
  private final class IdleModels implements Lanes.Evictor {
    @Override
    public boolean evictable(String model) {
      ModelLearner learner = learners.get(model);
      return learner == null || (learner.learner().isQuiescent() && learner.inbox().size() == 0);
    }

    @Override
    public void evicted(String model) {
      ModelLearner learner = learners.remove(model);
      removeMeters(java.util.Set.of(model));
      if (learner != null) {
        background.execute(learner::close);
      }
      LOG.info("closed idle model {}; its next record opens it again", model);
    }
  }

  /** Where each model's last checkpoint in {@code store} says its learner had trained up to. */
  private static Map<String, Map<TopicPartition, Long>> trainedByModel(RetainStore store) {
    Map<String, Map<TopicPartition, Long>> byModel = new HashMap<>();
    for (String model : store.models(Blob.CHECKPOINT)) {
      byModel.put(model, TrainedPositions.of(store, model));
    }
    return byModel;
  }

  PartitionTask start() {
    thread.start();
    return this;
  }

  TopicPartition partition() {
    return partition;
  }

  /** Changes the store took from the changelog when it opened. */
  long restored() {
    return store.restoredChanges();
  }

  /** Seconds since this task opened (its store restored and its partition fenced). */
  double ageSeconds() {
    return (System.nanoTime() - openedNanos) / 1e9;
  }

  /** The stored positions of this partition, for the group's committed offsets. */
  Map<TopicPartition, Long> positions(String group) {
    Map<TopicPartition, Long> positions = Offsets.read(store, group);
    positions.keySet().retainAll(java.util.Set.of(partition));
    return positions;
  }

  Map<String, ModelLearner> learners() {
    return learners;
  }

  /**
   * Why this task cannot go on (ingest stopped, or a learner failed), or null. A learner or ingest
   * fenced by a newer owner is no failure of this instance: its partition is on its way out.
   */
  String failure() {
    Throwable ingest = failure;
    if (ingest != null && !(ingest instanceof StoreFencedException)) {
      return "ingest of " + partition + " stopped: " + ingest;
    }
    for (Map.Entry<String, ModelLearner> e : learners.entrySet()) {
      Throwable learner = e.getValue().learner().failure();
      if (learner != null && !fenced(learner)) {
        return "the learner of model " + e.getKey() + " stopped: " + learner;
      }
    }
    return null;
  }

  private static boolean fenced(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StoreFencedException) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    learners.values().forEach(ModelLearner::close);
    background.shutdown();
    awaitClosed();
    loop.close();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    store.close();
    removeMeters(new java.util.HashSet<>(loop.lanes().models()));
    LOG.info("closed {}", partition);
  }

  private void awaitClosed() {
    try {
      background.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The models' meters move with them. */
  private void removeMeters(java.util.Set<String> models) {
    for (Meter meter : registry.getMeters()) {
      String model = meter.getId().getTag("model");
      if (model != null && models.contains(model)) {
        registry.remove(meter);
      }
    }
  }
}
