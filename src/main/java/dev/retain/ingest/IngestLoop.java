package dev.retain.ingest;

import dev.retain.config.RetainConfig;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest stage: polls the examples topic, validates each record, routes bad ones to the
 * dead-letter topic with a reason, and writes the good ones' effects (replay, holdout, dedup) and
 * the consumer positions in one atomic store batch. Positions live in the store: on every
 * assignment the consumer seeks to them, so after a crash each record counts exactly once. Several
 * polls may share one write (group commit, bounded by {@code retain.ingest.commit.records} and
 * {@code retain.ingest.commit.interval.ms}) so that an fsync is paid per commit, not per poll.
 *
 * <p>Three threads share the work. The poll thread ({@link #run}) only polls, applies backpressure
 * and mirrors positions; it hands each poll's records to the absorb thread, which decodes,
 * validates and routes them and seals group commits; the writer thread sends the dead letters and
 * writes each sealed batch. Fetching thus overlaps the per-record work, which on the poll thread
 * alone cost as much as the fetching itself (README, bench ingest). At most {@value #POLLS_AHEAD}
 * polls wait for the absorb thread, so memory stays bounded; a rebalance waits until every record
 * handed over is committed with its position.
 *
 * <p>Dead letters are sent and flushed before the batch commits: at least once, never lost. {@link
 * #close} may be called from any thread.
 */
public final class IngestLoop implements Runnable, AutoCloseable {
  /** The name of the thread that decodes, validates and routes records. */
  public static final String ABSORB_THREAD = "retain-ingest-absorb";

  /** The name of the thread that sends dead letters and writes sealed group commits. */
  public static final String WRITER_THREAD = "retain-store-writer";

  /** Polls handed to the absorb thread and not yet absorbed, at most. */
  static final int POLLS_AHEAD = 2;

  private static final Logger LOG = LoggerFactory.getLogger(IngestLoop.class);
  private final Consumer<byte[], ByteBuffer> consumer;
  private final Producer<byte[], byte[]> deadLetters;
  private final Lanes lanes;
  private final TopicPartition only; // null: subscribed
  private final String topic;
  private final Duration pollTimeout;
  private final ExecutorService absorber = daemonThread(ABSORB_THREAD);
  private final ExecutorService writer = daemonThread(WRITER_THREAD);
  private final CatchUp catchUp = new CatchUp();
  private final PositionMirror mirror = new PositionMirror();
  private final GroupCommit commits; // on the absorb thread
  private final StoredPositions positions;
  private volatile boolean paused;
  private volatile boolean closed;
  private volatile boolean failed; // after a failure nothing more is committed

  /** Polls handed to the absorb thread, oldest first; touched only on the poll thread. */
  private final ArrayDeque<Future<?>> absorbing = new ArrayDeque<>();

  public IngestLoop(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      Consumer<byte[], ByteBuffer> consumer,
      Producer<byte[], byte[]> deadLetters,
      ExampleSink sink,
      MeterRegistry registry) {
    this(config, store, Lanes.single(config, state, sink, registry), consumer, deadLetters, null);
  }

  /**
   * A loop over {@code lanes}' models.
   *
   * @param only the one partition to read, assigned rather than subscribed to (a fleet's partition,
   *     whose group membership another consumer holds), or null to subscribe
   */
  public IngestLoop(
      RetainConfig config,
      RetainStore store,
      Lanes lanes,
      Consumer<byte[], ByteBuffer> consumer,
      Producer<byte[], byte[]> deadLetters,
      TopicPartition only) {
    this.consumer = consumer;
    this.deadLetters = deadLetters;
    this.lanes = lanes;
    this.only = only;
    this.topic = config.examplesTopic();
    this.pollTimeout = Duration.ofMillis(config.getLong(RetainConfig.INGEST_POLL_TIMEOUT_MS));
    this.commits = commits(config, store, lanes, deadLetters);
    String group = config.getString(RetainConfig.INGEST_GROUP_ID);
    this.positions = new StoredPositions(consumer, store, group, catchUp, mirror, this::commitAll);
  }

  private GroupCommit commits(
      RetainConfig config, RetainStore store, Lanes lanes, Producer<byte[], byte[]> deadLetters) {
    RecordRouter router = new RecordRouter(config, lanes, catchUp);
    return new GroupCommit(
        config, store, lanes, router, mirror, lanes.commitTimer(), deadLetters, writer);
  }

  private static ExecutorService daemonThread(String name) {
    return Executors.newSingleThreadExecutor(
        r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
  }

  /** Polls until closed; what ended the loop otherwise. */
  private RuntimeException pollUntilClosed() {
    try {
      while (!closed) {
        pollOnce();
      }
      return null;
    } catch (WakeupException e) {
      return closed ? null : e;
    } catch (RuntimeException e) {
      return e;
    }
  }

  @Override
  public void run() {
    subscribe();
    RuntimeException failure = pollUntilClosed();
    if (failure != null) {
      failed = true;
      positions.failed();
    }
    shutdownAfter(failure);
  }

  /** Shuts the clients down; the first failure says what went wrong, not the clean-up's. */
  private void shutdownAfter(RuntimeException failure) {
    try {
      shutdownClients();
    } catch (RuntimeException e) {
      if (failure == null) {
        throw e;
      }
      failure.addSuppressed(e);
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Subscribes to the examples topic; called once, before the first {@link #pollOnce()}. */
  public void subscribe() {
    if (only == null) {
      consumer.subscribe(List.of(topic), positions);
    } else {
      consumer.assign(List.of(only));
      positions.onPartitionsAssigned(List.of(only));
    }
  }

  /**
   * Commits what is pending, then closes the Kafka clients; called once, on the loop's thread,
   * after the last poll.
   */
  public void shutdownClients() {
    try {
      if (!failed) {
        commitAll();
      }
    } finally {
      try {
        consumer.close(); // its revocation callback commits again, with nothing left to write
      } finally {
        absorber.shutdown();
        writer.shutdown();
        deadLetters.close();
      }
    }
  }

  /**
   * Handles one poll: hands its records to the absorb thread, which validates and routes them and
   * commits when a group commit is due, then applies backpressure. Waits while {@value
   * #POLLS_AHEAD} earlier polls are still being absorbed, and rethrows what failed there. Called by
   * {@link #run()}, or directly by a caller that drives the loop on its own thread.
   */
  public void pollOnce() {
    ConsumerRecords<byte[], ByteBuffer> records = consumer.poll(pollTimeout);
    while (!absorbing.isEmpty() && absorbing.peek().isDone()) {
      await(absorbing.poll());
    }
    absorbing.add(absorber.submit(() -> absorb(records)));
    while (absorbing.size() > POLLS_AHEAD) {
      await(absorbing.poll());
    }
    if (only == null) {
      mirror.mirror(consumer); // a fleet's membership consumer commits for it
    }
    applyBackpressure();
  }

  /** On the absorb thread: routes a poll's records and commits when a group commit is due. */
  private void absorb(ConsumerRecords<byte[], ByteBuffer> records) {
    if (!records.isEmpty()) {
      commits.absorb(records);
    }
    commits.commitIfDue();
  }

  /** Waits for a task of the absorb thread and rethrows what it threw. */
  private static void await(Future<?> task) {
    try {
      task.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (e.getCause() instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the absorb thread", e);
    }
  }

  /**
   * Waits until every poll handed over is absorbed, then writes everything pending and waits for
   * that; on the poll thread.
   */
  private void commitAll() {
    while (!absorbing.isEmpty()) {
      await(absorbing.poll());
    }
    await(absorber.submit(commits::commitAll));
  }

  /**
   * Pauses every assigned partition while the sink is saturated and resumes them once it is not.
   * Polling goes on while paused (it returns nothing), so the consumer stays in its group.
   */
  private void applyBackpressure() {
    Set<TopicPartition> assigned = consumer.assignment();
    if (lanes.saturated()) {
      if (consumer.paused().size() < assigned.size()) {
        LOG.debug("learner lags: pausing {}", assigned);
        consumer.pause(assigned);
      }
    } else if (!consumer.paused().isEmpty()) {
      consumer.resume(consumer.paused());
    }
    paused = !consumer.paused().isEmpty();
  }

  /** The models this loop writes for. */
  public Lanes lanes() {
    return lanes;
  }

  /** Records handled (accepted, rejected or skipped) and committed by this loop. */
  public long committedRecords() {
    return commits.committedRecords();
  }

  /** True while backpressure holds the partitions paused; readable from any thread. */
  public boolean isPaused() {
    return paused;
  }

  /**
   * Where the learner's last checkpoint says it had trained up to. At assignment, records between
   * that and the stored position (stored, but not trained on before a crash) go to the learner
   * again, without their store effects, dead letters or counts: nothing is counted twice, and
   * nothing stored is lost for training.
   */
  public void resumeTrainingFrom(Function<TopicPartition, Long> trainedThrough) {
    catchUp.trainedThrough(trainedThrough, (model, tp) -> trainedThrough.apply(tp));
  }

  /**
   * {@link #resumeTrainingFrom(Function)} for many models: {@code byModel} says where each model's
   * learner trained up to, and reading starts from the earliest of them.
   */
  public void resumeTrainingFrom(Map<String, Map<TopicPartition, Long>> byModel) {
    catchUp.trainedThrough(
        tp ->
            byModel.values().stream()
                .map(p -> p.get(tp))
                .filter(java.util.Objects::nonNull)
                .min(Long::compare)
                .orElse(null),
        (model, tp) -> byModel.getOrDefault(model, Map.of()).get(tp));
  }

  /** Runs {@code action} on the loop's thread each time partitions are assigned to it. */
  public void onAssigned(Runnable action) {
    positions.onAssigned(action);
  }

  /** Partitions of the examples topic this loop owns now (readiness: at least one). */
  public int assignedPartitions() {
    return positions.assignedPartitions();
  }

  @Override
  public void close() {
    closed = true;
    consumer.wakeup();
  }
}
