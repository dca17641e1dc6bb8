package dev.retain.ingest;

import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gathers the effects of one or more polls into one atomic store write with their positions, so
 * that an fsync is paid per commit, not per poll: a commit is sealed once it holds {@code
 * retain.ingest.commit.records} records or is {@code retain.ingest.commit.interval.ms} old. The
 * writer thread sends the sealed commit's dead letters, then writes it; at most one write is in
 * flight, so writes stay in order. Once written, the trainable examples go to the sink and the
 * positions to the mirror. Called on the absorb thread.
 */
final class GroupCommit {
  private static final Logger LOG = LoggerFactory.getLogger(GroupCommit.class);
  private final RetainStore store;
  private final Lanes lanes;
  private final RecordRouter router;
  private final PositionMirror mirror;
  private final io.micrometer.core.instrument.Timer commitDuration;
  private final Producer<byte[], byte[]> deadLetters;
  private final ExecutorService writer;
  private final String group;
  private final int commitRecords;
  private final long commitIntervalMs;
  private final AtomicLong committed = new AtomicLong();
  private PendingCommit pending;
  private PendingCommit inFlight;
  private Future<?> inFlightWrite;

  GroupCommit(
      RetainConfig config,
      RetainStore store,
      Lanes lanes,
      RecordRouter router,
      PositionMirror mirror,
      io.micrometer.core.instrument.Timer commitDuration,
      Producer<byte[], byte[]> deadLetters,
      ExecutorService writer) {
    this.store = store;
    this.lanes = lanes;
    this.router = router;
    this.mirror = mirror;
    this.commitDuration = commitDuration;
    this.deadLetters = deadLetters;
    this.writer = writer;
    this.group = config.getString(RetainConfig.INGEST_GROUP_ID);
    this.commitRecords = config.getInt(RetainConfig.INGEST_COMMIT_RECORDS);
    this.commitIntervalMs = config.getLong(RetainConfig.INGEST_COMMIT_INTERVAL_MS);
  }

  /** Routes a poll's records into the pending commit. */
  void absorb(ConsumerRecords<byte[], ByteBuffer> records) {
    if (pending == null) {
      pending = new PendingCommit(store);
    }
    router.route(records, pending);
  }

  /**
   * Completes a finished write, and seals the pending commit when it is due; a change the learner
   * made to the holdouts (a regime it opened) is written within a commit interval even while no
   * record comes.
   */
  void commitIfDue() {
    finishWrite(false);
    lanes.evictIdle(this::busy);
    if (pending == null && lanes.changed()) {
      pending = new PendingCommit(store);
    }
    if (pending != null
        && (pending.records >= commitRecords || pending.ageMillis() >= commitIntervalMs)) {
      startWrite();
    }
  }

  /** True when {@code lane} has effects in the pending commit or the write in flight. */
  private boolean busy(Lanes.Lane lane) {
    return holds(pending, lane) || holds(inFlight, lane);
  }

  private static boolean holds(PendingCommit commit, Lanes.Lane lane) {
    return commit != null
        && (commit.heldOutBy.containsKey(lane) || commit.trainableLanes.contains(lane));
  }

  /** Writes everything pending and waits for it. */
  void commitAll() {
    if (pending != null) {
      startWrite();
    }
    finishWrite(true);
  }

  /** Records handled (accepted, rejected or skipped) and committed. */
  long committedRecords() {
    return committed.get();
  }

  /**
   * Seals what is pending and hands it to the writer thread, which sends the dead letters and then
   * writes effects and positions in one atomic batch. The absorb thread meanwhile goes on with the
   * next records, so the fsync overlaps work.
   */
  private void startWrite() {
    finishWrite(true);
    PendingCommit sealed = pending;
    pending = null;
    lanes.flush(sealed.batch);
    sealed.sealPositions(group);
    inFlight = sealed;
    inFlightWrite = writer.submit(() -> write(sealed));
  }

  /** On the writer thread: the dead letters, then the batch. */
  private Void write(PendingCommit sealed) throws InterruptedException, ExecutionException {
    long start = System.nanoTime();
    sendDeadLetters(sealed.rejects);
    store.commit(sealed.batch);
    commitDuration.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    return null;
  }

  /**
   * Completes the write in flight, if any: counts it, hands its trainable examples over and passes
   * the positions to the mirror. A failed write ends the loop; a restart reloads from the store.
   *
   * @param wait wait for the write; otherwise return at once when it is still running
   */
  private void finishWrite(boolean wait) {
    if (inFlight == null || (!wait && !inFlightWrite.isDone())) {
      return;
    }
    awaitWrite();
    PendingCommit done = inFlight;
    inFlight = null;
    committed.addAndGet(done.records);
    Map<TopicPartition, Long> next = new HashMap<>();
    done.positions.forEach((tp, om) -> next.put(tp, om.offset()));
    handOver(done, next);
    mirror.stored(done.positions);
  }

  /**
   * Counts each model's examples and hands each its trainable ones, in order, with the positions
   * after the whole commit. In a fleet a model with no example in the commit gets nothing; the one
   * model of retain run gets the whole commit, positions of rejected and skipped records included.
   */
  private void handOver(PendingCommit done, Map<TopicPartition, Long> next) {
    if (!lanes.isFleet()) {
      handOverAll(done, lanes.all().iterator().next(), next);
      return;
    }
    Map<Lanes.Lane, List<Integer>> byLane = new java.util.LinkedHashMap<>();
    for (int i = 0; i < done.trainable.size(); i++) {
      byLane.computeIfAbsent(done.trainableLanes.get(i), l -> new ArrayList<>()).add(i);
    }
    done.heldOutBy.keySet().forEach(l -> byLane.putIfAbsent(l, List.of()));
    byLane.forEach((lane, indices) -> handOver(done, lane, indices, next));
  }

  /** The one model of retain run: the whole commit, as it is. */
  private static void handOverAll(
      PendingCommit done, Lanes.Lane lane, Map<TopicPartition, Long> next) {
    lane.metrics().ingested(done.trainable.size() + done.heldOut, done.heldOut);
    long[] offsets = done.trainableNext.stream().mapToLong(Long::longValue).toArray();
    lane.sink().accept(new Handover(done.trainable, done.trainablePartitions, offsets, next));
  }

  /** Counts one model's examples of {@code done} and hands it those at {@code indices}. */
  private static void handOver(
      PendingCommit done, Lanes.Lane lane, List<Integer> indices, Map<TopicPartition, Long> next) {
    int heldOut = done.heldOutBy.getOrDefault(lane, 0);
    lane.metrics().ingested(indices.size() + heldOut, heldOut);
    List<Example> examples = new ArrayList<>(indices.size());
    List<TopicPartition> partitions = new ArrayList<>(indices.size());
    long[] offsets = new long[indices.size()];
    for (int j = 0; j < indices.size(); j++) {
      examples.add(done.trainable.get(indices.get(j)));
      partitions.add(done.trainablePartitions.get(indices.get(j)));
      offsets[j] = done.trainableNext.get(indices.get(j));
    }
    lane.sink().accept(new Handover(examples, partitions, offsets, next));
  }

  private void awaitWrite() {
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
        resendTruncated(rejects.get(i), e);
      }
    }
  }

  private void resendTruncated(ProducerRecord<byte[], byte[]> letter, ExecutionException e)
      throws InterruptedException, ExecutionException {
    if (!(e.getCause() instanceof RecordTooLargeException)) {
      throw new IllegalStateException(
          "dead letter to " + letter.topic() + " not delivered: " + e.getCause(), e.getCause());
    }
    LOG.warn(
        "dead letter of {} bytes too large for {}: sending it truncated",
        letter.value() == null ? 0 : letter.value().length,
        letter.topic());
    deadLetters.send(DeadLetter.truncated(letter)).get();
  }
}
