package dev.retain.fleet;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.http.HttpServer;
import dev.retain.http.Limits;
import dev.retain.train.StepSlots;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code retain run} runs with {@code retain.fleet.enabled}: a member of the ingest group that
 * learns every model in the partitions the group gives it. The group's assignment decides
 * ownership; for each partition it gets, the node opens a {@link PartitionTask} (which fences the
 * previous owner and restores the partition's store from the changelog), and for each it loses,
 * closes it before the partition moves on. The membership consumer reads nothing (its partitions
 * stay paused) and copies the stored positions to the group's committed offsets for lag tools.
 */
public final class FleetNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FleetNode.class);
  private static final long MIRROR_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long PLAN_NANOS = TimeUnit.SECONDS.toNanos(3);
  private final RetainConfig config;
  private final PrometheusMeterRegistry registry;
  private final KafkaConsumer<byte[], ByteBuffer> membership;
  private final StepSlots slots;
  private final Map<Integer, PartitionTask> tasks = new ConcurrentHashMap<>();
  private final Thread thread;
  private final HttpServer endpoint;
  private final HttpServer adminEndpoint;
  private final String group;
  private volatile boolean closed;
  private volatile Throwable failure;
  private long mirrored = System.nanoTime();
  private final Standbys standbys;
  private long planned = System.nanoTime() - PLAN_NANOS;

  public FleetNode(RetainConfig config, PrometheusMeterRegistry registry) {
    this.config = config;
    this.registry = registry;
    this.group = config.getString(RetainConfig.INGEST_GROUP_ID);
    this.slots = new StepSlots(config.getInt(RetainConfig.FLEET_TRAIN_SLOTS));
    this.membership = KafkaClients.membershipConsumer(config);
    this.standbys = new Standbys(config);
    this.thread = new Thread(this::run, "retain-fleet");
    thread.setUncaughtExceptionHandler((t, e) -> stopped(e));
    registerMeters();
    endpoint = endpoint(config, RetainConfig.METRICS_HOST, RetainConfig.METRICS_PORT);
    endpoint.metrics(registry).health(this::live, this::notReady, "/health");
    adminEndpoint = endpoint(config, RetainConfig.ADMIN_HOST, RetainConfig.ADMIN_PORT);
    adminEndpoint
        .route("/v1/models", FleetAdmin.listing(this))
        .prefix(FleetAdmin.PATH, new FleetAdmin(this, this::publisher, config.adminToken()));
  }

  private static HttpServer endpoint(RetainConfig config, String host, String port) {
    return new HttpServer(
        config.getString(host), config.getInt(port), Limits.of(config, 2, 64 << 10));
  }

  private void stopped(Throwable e) {
    failure = e;
    LOG.error("the fleet member stopped: {}", e.getMessage(), e);
  }

  private void registerMeters() {
    gauge(
        "retain.fleet.partitions",
        "Partitions of the examples topic this instance owns",
        tasks::size);
    gauge("retain.fleet.models", "Models this instance learns now", () -> models().size());
    gauge("retain.fleet.learners.busy", BUSY, this::busyLearners);
    gauge("retain.fleet.standby.partitions", STANDBY, () -> standbys.partitions().size());
    gauge("retain.fleet.standby.behind", BEHIND, standbys::behind);
    gauge("retain.fleet.slot.waiting", "Learners waiting for a training slot", slots::waiting);
  }

  private static final String BUSY =
      "Learners of this instance with work left (not yet idle with everything consolidated)";
  private static final String STANDBY =
      "Partitions of other instances this instance keeps a warm copy of";
  private static final String BEHIND =
      "Warm copies not yet caught up with their changelog partition";

  private void gauge(String name, String description, java.util.function.IntSupplier value) {
    Gauge.builder(name, value, v -> v.getAsInt())
        .description(description)
        .strongReference(true)
        .register(registry);
  }

  /** The publisher of {@code model} when this instance learns it now, else null. */
  private dev.retain.publish.AdapterPublisher publisher(String model) {
    for (PartitionTask task : tasks.values()) {
      ModelLearner learner = task.learners().get(model);
      if (learner != null) {
        return learner.publisher();
      }
    }
    return null;
  }

  public FleetNode start() {
    endpoint.start();
    adminEndpoint.start();
    thread.start();
    return this;
  }

  private void run() {
    membership.subscribe(List.of(config.examplesTopic()), new Ownership());
    try {
      while (!closed) {
        membership.poll(Duration.ofMillis(200));
        mirrorPositions();
        planStandbys();
      }
    } catch (WakeupException e) {
      if (!closed) {
        throw e;
      }
    } finally {
      shutdown();
    }
  }

  /** Leaves the group, closing every task with its last commit, then the standbys. */
  private void shutdown() {
    membership.close(); // revokes every partition: each task closes with its last commit
    closeAll(tasks.keySet());
    standbys.close();
  }

  /** Opens a task per assigned partition and closes a task per revoked or lost one. */
  private final class Ownership implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      membership.pause(partitions);
      for (TopicPartition tp : partitions) {
        long start = System.nanoTime();
        standbys.release(tp.partition()); // its warm copy, if any, becomes the task's store
        PartitionTask task = new PartitionTask(config, tp.partition(), registry, slots).start();
        tasks.put(tp.partition(), task);
        LOG.info(
            "took {}: restored {} changes in {} ms",
            tp,
            task.restored(),
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      }
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      closeAll(partitions.stream().map(TopicPartition::partition).toList());
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      closeAll(partitions.stream().map(TopicPartition::partition).toList());
    }
  }

  private void closeAll(Collection<Integer> partitions) {
    for (Integer p : List.copyOf(partitions)) {
      PartitionTask task = tasks.remove(p);
      if (task != null) {
        try {
          task.close();
        } catch (RuntimeException e) {
          LOG.warn("closing partition {}: {}", p, e.getMessage(), e);
        }
      }
    }
  }

  /**
   * Every few seconds, with standbys on: reads the group's assignment and keeps warm the partitions
   * this member is a standby of. A failed read leaves the plan as it was.
   */
  private void planStandbys() {
    if (!standbys.enabled() || System.nanoTime() - planned < PLAN_NANOS) {
      return;
    }
    planned = System.nanoTime();
    String self = membership.groupMetadata().memberId();
    if (!self.isEmpty()) { // in the group
      standbys.replan(group, self, tasks.keySet());
    }
  }

  /** Copies each owned partition's stored position to the group, at most once a second. */
  private void mirrorPositions() {
    if (System.nanoTime() - mirrored < MIRROR_NANOS || tasks.isEmpty()) {
      return;
    }
    mirrored = System.nanoTime();
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    storedPositions().forEach((tp, next) -> offsets.put(tp, new OffsetAndMetadata(next)));
    offsets.keySet().retainAll(membership.assignment());
    if (!offsets.isEmpty()) {
      membership.commitAsync(offsets, FleetNode::mirrored);
    }
  }

  private static void mirrored(Map<TopicPartition, OffsetAndMetadata> offsets, Exception error) {
    if (error != null) {
      LOG.debug("mirroring positions failed, will retry: {}", error.toString());
    }
  }

  /** The models this instance learns now, by partition. */
  public Map<Integer, List<String>> modelsByPartition() {
    Map<Integer, List<String>> out = new java.util.TreeMap<>();
    tasks.forEach((p, task) -> out.put(p, List.copyOf(task.learners().keySet())));
    return out;
  }

  /** The models this instance learns now. */
  public List<String> models() {
    return modelsByPartition().values().stream().flatMap(List::stream).sorted().toList();
  }

  /** The stored position of every partition this instance owns (none for one closing now). */
  public Map<TopicPartition, Long> storedPositions() {
    Map<TopicPartition, Long> positions = new HashMap<>();
    for (PartitionTask task : tasks.values()) {
      try {
        positions.putAll(task.positions(group));
      } catch (RuntimeException e) {
        LOG.debug("no positions of {} now: {}", task.partition(), e.toString());
      }
    }
    return positions;
  }

  /** Learners that are not quiescent: training, consolidating, rehearsing or starting. */
  public int busyLearners() {
    int busy = 0;
    for (PartitionTask task : tasks.values()) {
      for (ModelLearner learner : task.learners().values()) {
        busy += learner.learner().isQuiescent() ? 0 : 1;
      }
    }
    return busy;
  }

  /** The accuracy matrix of {@code model}'s learner while this instance learns it, else null. */
  public dev.retain.eval.AccuracyMatrix matrix(String model) {
    for (PartitionTask task : tasks.values()) {
      ModelLearner learner = task.learners().get(model);
      if (learner != null) {
        return learner.learner().matrix();
      }
    }
    return null;
  }

  /** The partitions this instance owns now. */
  public java.util.Set<Integer> partitions() {
    return java.util.Set.copyOf(tasks.keySet());
  }

  public int metricsPort() {
    return endpoint.port();
  }

  /** The admin API's port. */
  public int adminPort() {
    return adminEndpoint.port();
  }

  private boolean live() {
    return closed || (thread.isAlive() && taskFailure() == null);
  }

  private String taskFailure() {
    for (PartitionTask task : tasks.values()) {
      String why = task.failure();
      if (why != null) {
        return why;
      }
    }
    return null;
  }

  /** Null when ready: a member of the group that owns at least one partition. */
  private String notReady() {
    if (!thread.isAlive()) {
      return "the fleet member stopped: " + failure;
    }
    return tasks.isEmpty() ? "no partition of the examples topic assigned yet" : taskFailure();
  }

  /**
   * Waits until the node is closed, or a partition's ingest or a learner fails (false, so that
   * {@code retain run} exits non-zero and the platform restarts it).
   */
  public boolean awaitTermination() throws InterruptedException {
    while (thread.isAlive()) {
      String why = taskFailure();
      if (why != null && !closed) {
        System.err.println(why);
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(200); // supervision cadence; the workers' state decides
    }
    return failure == null;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    membership.wakeup();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    adminEndpoint.close();
    endpoint.close();
  }
}
