package dev.retain.ingest;

import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.record.ExampleValidator;
import dev.retain.record.InvalidExampleException;
import dev.retain.record.RejectReason;
import dev.retain.store.ModelState;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreException;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
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
  private static final Logger LOG = LoggerFactory.getLogger(IngestLoop.class);

  /** Least time between two mirror commits: they serve lag monitoring, which needs no more. */
  private static final long MIRROR_INTERVAL_NANOS = 1_000_000_000L;

  /** The name of the thread that decodes, validates and routes records. */
  public static final String ABSORB_THREAD = "retain-ingest-absorb";

  /** The name of the thread that sends dead letters and writes sealed group commits. */
  public static final String WRITER_THREAD = "retain-store-writer";

  /** Polls handed to the absorb thread and not yet absorbed, at most. */
  static final int POLLS_AHEAD = 2;

  private final Consumer<byte[], ByteBuffer> consumer;
  private final Producer<byte[], byte[]> deadLetters;
  private final RetainStore store;
  private final ModelState state;
  private final ExampleSink sink;
  private final ExampleCodec codec;
  private final ExampleValidator validator;
  private final IngestMetrics metrics;
  private final String topic;
  private final String dlqTopic;
  private final String group;
  private final String defaultDomain;
  private final int maxBytes;
  private final int maxDomains;
  private final Duration pollTimeout;
  private final int commitRecords;
  private final long commitIntervalMs;
  private final AtomicLong committed = new AtomicLong();
  private final byte[] modelKey;
  private final ExecutorService absorber = daemonThread(ABSORB_THREAD);
  private final ExecutorService writer = daemonThread(WRITER_THREAD);
  private volatile boolean paused;
  private volatile boolean closed;

  /** Polls handed to the absorb thread, oldest first; touched only on the poll thread. */
  private final ArrayDeque<Future<?>> absorbing = new ArrayDeque<>();

  // touched only on the absorb thread
  private PendingCommit pending;
  private PendingCommit inFlight;
  private Future<?> inFlightWrite;

  /**
   * Stored positions not yet mirrored to Kafka: added on the absorb thread, taken on the poll
   * thread; guarded by itself.
   */
  private final Map<TopicPartition, OffsetAndMetadata> unmirrored = new HashMap<>();

  private final Set<TopicPartition> assigned = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile boolean failed; // after a failure nothing more is committed
  private volatile Runnable onAssigned = () -> {};
  // where the learner's checkpoint says it trained up to, per partition (read at assignment)
  private volatile java.util.function.Function<TopicPartition, Long> trainedThrough = tp -> null;
  // per partition: records below this offset were stored before; the learner gets them again
  private final Map<TopicPartition, Long> catchUp = new java.util.concurrent.ConcurrentHashMap<>();
  private final Set<String> caughtUp = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final Set<TopicPartition> resumed = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private boolean mirroring; // poll thread
  private long lastMirror = System.nanoTime() - MIRROR_INTERVAL_NANOS; // of the last mirror commit

  public IngestLoop(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      Consumer<byte[], ByteBuffer> consumer,
      Producer<byte[], byte[]> deadLetters,
      ExampleSink sink,
      MeterRegistry registry) {
    this.consumer = consumer;
    this.deadLetters = deadLetters;
    this.store = store;
    this.state = state;
    this.sink = sink;
    this.codec = ExampleCodec.named(config.getString(RetainConfig.RECORD_CODEC));
    this.validator =
        new ExampleValidator(
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getInt(RetainConfig.RECORD_CLASSES),
            config.getDouble(RetainConfig.RECORD_MAX_ABS_FEATURE).floatValue());
    this.metrics = new IngestMetrics(registry, state, config.getInt(RetainConfig.RECORD_CLASSES));
    this.topic = config.examplesTopic();
    this.dlqTopic = config.deadLetterTopic();
    this.group = config.getString(RetainConfig.INGEST_GROUP_ID);
    this.defaultDomain = config.getString(RetainConfig.RECORD_DEFAULT_DOMAIN);
    this.maxBytes = config.getInt(RetainConfig.RECORD_MAX_BYTES);
    this.maxDomains = config.getInt(RetainConfig.RECORD_MAX_DOMAINS);
    this.pollTimeout = Duration.ofMillis(config.getLong(RetainConfig.INGEST_POLL_TIMEOUT_MS));
    this.modelKey = state.model().getBytes(StandardCharsets.UTF_8);
    this.commitRecords = config.getInt(RetainConfig.INGEST_COMMIT_RECORDS);
    this.commitIntervalMs = config.getLong(RetainConfig.INGEST_COMMIT_INTERVAL_MS);
  }

  private static ExecutorService daemonThread(String name) {
    return Executors.newSingleThreadExecutor(
        r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
  }

  @Override
  public void run() {
    subscribe();
    RuntimeException failure = null;
    try {
      while (!closed) {
        pollOnce();
      }
    } catch (WakeupException e) {
      if (!closed) {
        failure = e;
      }
    } catch (RuntimeException e) {
      failure = e;
    }
    failed = failure != null;
    try {
      shutdownClients();
    } catch (RuntimeException e) {
      if (failure == null) {
        throw e;
      }
      failure.addSuppressed(e); // the first failure says what went wrong, not the clean-up's
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Subscribes to the examples topic; called once, before the first {@link #pollOnce()}. */
  public void subscribe() {
    consumer.subscribe(List.of(topic), new SeekToStoredPositions());
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
    absorbing.add(
        absorber.submit(
            () -> {
              if (!records.isEmpty()) {
                absorb(records);
              }
              commitIfDue();
            }));
    while (absorbing.size() > POLLS_AHEAD) {
      await(absorbing.poll());
    }
    mirrorPositions();
    applyBackpressure();
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

  private void absorb(ConsumerRecords<byte[], ByteBuffer> records) {
    if (pending == null) {
      pending = new PendingCommit(store);
    }
    int firstOfPoll = pending.trainable.size();
    long polledBytes = 0;
    long keptBytes = 0;
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<byte[], ByteBuffer>> part = records.records(tp);
      Long until = catchUp.get(tp);
      for (ConsumerRecord<byte[], ByteBuffer> record : part) {
        long size = Math.max(0, record.serializedValueSize());
        polledBytes += size;
        boolean again = until != null && record.offset() < until;
        pending.records += again ? 0 : 1; // a record counts once, when it is stored
        keptBytes += (again ? catchUp(record) : absorb(record)) ? size : 0;
      }
      long next = part.get(part.size() - 1).offset() + 1;
      if (until == null || next > until) {
        pending.position(tp, next); // a stored position never moves back
      }
      if (until != null && next >= until) {
        catchUp.remove(tp);
        caughtUp.clear();
      }
    }
    if (keptBytes * 2 < polledBytes) {
      // a binary example's features are a view of the fetch buffer: a few examples among many
      // skipped or rejected records (a topic shared by several models, say) must not keep whole
      // buffers alive while they wait for the learner, so they copy their features out
      pending.trainable.subList(firstOfPoll, pending.trainable.size()).forEach(Example::features);
    }
  }

  /**
   * A record stored before but not trained on: to the learner when it is a trainable example of
   * this model (valid, not held out, not a second copy of an id), with no store effect.
   */
  private boolean catchUp(ConsumerRecord<byte[], ByteBuffer> record) {
    if (record.key() != null && !Arrays.equals(modelKey, record.key())) {
      return false;
    }
    Example example;
    try {
      example = decode(record);
    } catch (InvalidExampleException e) {
      return false; // dead-lettered when it was first read
    }
    if (state.holdout().holds(example.domain(), example.id()) || !caughtUp.add(example.id())) {
      return false;
    }
    example.features(); // its own array: it is not in any stored batch
    pending.trainable.add(example);
    pending.trainablePartitions.add(new TopicPartition(record.topic(), record.partition()));
    pending.trainableNext.add(record.offset() + 1);
    return true;
  }

  /** Routes one record; true when it became a trainable example that the learner will get. */
  private boolean absorb(ConsumerRecord<byte[], ByteBuffer> record) {
    Example example = accept(record, pending.rejects);
    if (example == null) {
      return false;
    }
    if (!state.route(example, pending.batch)) {
      pending.heldOut++; // stored, so its features are an array already (see Example)
      return false;
    }
    pending.trainable.add(example);
    pending.trainablePartitions.add(new TopicPartition(record.topic(), record.partition()));
    pending.trainableNext.add(record.offset() + 1);
    return true;
  }

  private void commitIfDue() {
    finishWrite(false);
    if (pending != null
        && (pending.records >= commitRecords || pending.ageMillis() >= commitIntervalMs)) {
      startWrite();
    }
  }

  /**
   * Seals what is pending and hands it to the writer thread, which sends the dead letters and then
   * writes effects and positions in one atomic batch. The poll thread meanwhile goes on with the
   * next records, so the fsync overlaps work. At most one write is in flight, so writes stay in
   * order.
   */
  private void startWrite() {
    finishWrite(true);
    PendingCommit sealed = pending;
    pending = null;
    state.flush(sealed.batch);
    sealed.sealPositions(group);
    inFlight = sealed;
    inFlightWrite =
        writer.submit(
            () -> {
              long start = System.nanoTime();
              sendDeadLetters(sealed.rejects);
              store.commit(sealed.batch);
              metrics.commitDuration.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
              return null;
            });
  }

  /**
   * Completes the write in flight, if any: counts it, hands its trainable examples over and mirrors
   * the positions to Kafka (for lag monitoring). A failed write ends the loop; a restart reloads
   * from the store.
   *
   * @param wait wait for the write; otherwise return at once when it is still running
   */
  private void finishWrite(boolean wait) {
    if (inFlight == null || (!wait && !inFlightWrite.isDone())) {
      return;
    }
    try {
      inFlightWrite.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StoreException store) {
        throw store; // its message says what failed, e.g. "store write failed: ... No space left"
      }
      throw new IllegalStateException("store write failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a store write", e);
    }
    PendingCommit done = inFlight;
    inFlight = null;
    committed.addAndGet(done.records);
    metrics.ingested(done.trainable.size() + done.heldOut, done.heldOut);
    Map<TopicPartition, Long> next = new HashMap<>();
    done.positions.forEach((tp, om) -> next.put(tp, om.offset()));
    sink.accept(
        new Handover(
            done.trainable,
            done.trainablePartitions,
            done.trainableNext.stream().mapToLong(Long::longValue).toArray(),
            next));
    synchronized (unmirrored) {
      unmirrored.putAll(done.positions);
    }
  }

  /**
   * Copies the stored positions to the group's committed offsets, for lag monitoring only, at most
   * once a second. One commit is in flight at a time; a failed one (for example during a rebalance)
   * is retried on a later poll, so the mirror catches up even when no new records arrive.
   */
  private void mirrorPositions() {
    if (mirroring || System.nanoTime() - lastMirror < MIRROR_INTERVAL_NANOS) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> owned;
    synchronized (unmirrored) {
      if (unmirrored.isEmpty()) {
        return;
      }
      owned = new HashMap<>(unmirrored);
      unmirrored.clear();
    }
    lastMirror = System.nanoTime();
    owned.keySet().retainAll(consumer.assignment());
    if (owned.isEmpty()) {
      return;
    }
    mirroring = true;
    consumer.commitAsync(
        owned,
        (offsets, error) -> {
          mirroring = false;
          if (error != null) {
            LOG.debug("mirroring positions failed, will retry: {}", error.toString());
            synchronized (unmirrored) {
              offsets.forEach(unmirrored::putIfAbsent);
            }
          }
        });
  }

  /**
   * Waits until every poll handed over is absorbed, then writes everything pending and waits for
   * that; on the poll thread.
   */
  private void commitAll() {
    while (!absorbing.isEmpty()) {
      await(absorbing.poll());
    }
    await(
        absorber.submit(
            () -> {
              if (pending != null) {
                startWrite();
              }
              finishWrite(true);
            }));
  }

  /** The example of {@code record}, or null when it is skipped or rejected. */
  private Example accept(
      ConsumerRecord<byte[], ByteBuffer> record, List<ProducerRecord<byte[], byte[]>> rejects) {
    if (record.key() != null && !Arrays.equals(modelKey, record.key())) {
      metrics.skipped();
      return null;
    }
    try {
      Example example = decode(record);
      if (!state.holdout().admits(example.domain(), maxDomains)) {
        throw new InvalidExampleException(
            RejectReason.DOMAIN_LIMIT,
            "domain "
                + example.domain()
                + " would be one more than "
                + RetainConfig.RECORD_MAX_DOMAINS
                + "="
                + maxDomains);
      }
      if (!state.dedup().add(example.id())) {
        throw new InvalidExampleException(
            RejectReason.DUPLICATE_ID, "duplicate id " + example.id());
      }
      return example;
    } catch (InvalidExampleException e) {
      metrics.rejected(e.reason());
      rejects.add(DeadLetter.of(dlqTopic, record, e));
      return null;
    }
  }

  private Example decode(ConsumerRecord<byte[], ByteBuffer> record) throws InvalidExampleException {
    ByteBuffer value = record.value();
    if (value == null) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "null value");
    }
    if (value.remaining() > maxBytes) {
      throw new InvalidExampleException(
          RejectReason.OVERSIZED, value.remaining() + " bytes > limit " + maxBytes);
    }
    Example example = codec.decode(value, defaultDomain);
    validator.validate(example);
    return example;
  }

  /**
   * Sends the batch's dead letters and waits until each is delivered, before the store write that
   * moves past them. A letter the topic refuses as too large goes again, truncated, with its
   * original size and hash in headers; any other failure fails the write, so ingest stops without
   * committing past a record whose dead letter was not delivered.
   */
  private void sendDeadLetters(List<ProducerRecord<byte[], byte[]>> rejects)
      throws InterruptedException, ExecutionException {
    if (rejects.isEmpty()) {
      return;
    }
    List<Future<RecordMetadata>> sent = new ArrayList<>(rejects.size());
    rejects.forEach(r -> sent.add(deadLetters.send(r)));
    deadLetters.flush();
    for (int i = 0; i < sent.size(); i++) {
      try {
        sent.get(i).get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof RecordTooLargeException)) {
          throw new IllegalStateException(
              "dead letter to " + rejects.get(i).topic() + " not delivered: " + e.getCause(),
              e.getCause());
        }
        LOG.warn(
            "dead letter of {} bytes too large for {}: sending it truncated",
            rejects.get(i).value() == null ? 0 : rejects.get(i).value().length,
            rejects.get(i).topic());
        deadLetters.send(DeadLetter.truncated(rejects.get(i))).get();
      }
    }
  }

  /**
   * Pauses every assigned partition while the sink is saturated and resumes them once it is not.
   * Polling goes on while paused (it returns nothing), so the consumer stays in its group.
   */
  private void applyBackpressure() {
    Set<TopicPartition> assigned = consumer.assignment();
    if (sink.saturated()) {
      if (consumer.paused().size() < assigned.size()) {
        LOG.debug("learner lags: pausing {}", assigned);
        consumer.pause(assigned);
      }
    } else if (!consumer.paused().isEmpty()) {
      consumer.resume(consumer.paused());
    }
    paused = !consumer.paused().isEmpty();
  }

  /** Records handled (accepted, rejected or skipped) and committed by this loop. */
  public long committedRecords() {
    return committed.get();
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
  public void resumeTrainingFrom(java.util.function.Function<TopicPartition, Long> positions) {
    this.trainedThrough = positions;
  }

  /** Runs {@code action} on the loop's thread each time partitions are assigned to it. */
  public void onAssigned(Runnable action) {
    this.onAssigned = action;
  }

  /** Partitions of the examples topic this loop owns now (readiness: at least one). */
  public int assignedPartitions() {
    return assigned.size();
  }

  @Override
  public void close() {
    closed = true;
    consumer.wakeup();
  }

  /** Seeks every assigned partition to the position stored with the data it produced. */
  private final class SeekToStoredPositions implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      Map<TopicPartition, Long> stored = Offsets.read(store, group);
      List<TopicPartition> fresh = new ArrayList<>();
      for (TopicPartition tp : partitions) {
        Long offset = stored.get(tp);
        catchUp.remove(tp);
        // only at this process's first assignment of the partition: later, the learner here did
        // not lose what it trained on, and must not get it twice
        Long trained = resumed.add(tp) ? trainedThrough.apply(tp) : null;
        if (offset == null) {
          fresh.add(tp);
        } else if (trained != null && trained < offset) {
          consumer.seek(tp, trained);
          catchUp.put(tp, offset);
          LOG.info(
              "{}: the learner gets offsets [{}, {}) again, stored but not trained on",
              tp,
              trained,
              offset);
        } else {
          consumer.seek(tp, offset);
        }
      }
      if (!fresh.isEmpty()) {
        // never with an empty list: the consumer reads that as "every assigned partition", which
        // would undo the seeks above and re-read the topic from the start
        consumer.seekToBeginning(fresh);
      }
      synchronized (unmirrored) {
        stored.forEach(
            (tp, offset) -> {
              if (partitions.contains(tp)) {
                unmirrored.putIfAbsent(tp, new OffsetAndMetadata(offset));
              }
            });
      }
      assigned.addAll(partitions);
      LOG.info("assigned {}; resuming from stored positions {}", partitions, stored);
      if (!partitions.isEmpty()) {
        onAssigned.run();
      }
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      if (!failed) {
        commitAll(); // the effects of records from revoked partitions land with their positions
      }
      assigned.removeAll(partitions);
      partitions.forEach(catchUp::remove);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      assigned.removeAll(partitions); // another member may own them already: nothing to commit
      partitions.forEach(catchUp::remove);
    }
  }
}
