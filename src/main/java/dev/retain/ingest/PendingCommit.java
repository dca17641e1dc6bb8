package dev.retain.ingest;

import dev.retain.record.Example;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * What one group commit gathers over one or more polls: the store batch, the next positions, the
 * dead letters to send before the write and the trainable examples to hand over after it.
 */
final class PendingCommit {
  final StoreBatch batch;
  final List<Example> trainable = new ArrayList<>();
  final List<Lanes.Lane> trainableLanes = new ArrayList<>(); // each trainable example's model
  final Map<Lanes.Lane, Integer> heldOutBy = new HashMap<>();
  final List<TopicPartition> trainablePartitions = new ArrayList<>();
  final List<Long> trainableNext = new ArrayList<>(); // each trainable example's offset + 1
  final List<ProducerRecord<byte[], byte[]>> rejects = new ArrayList<>();
  final Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
  final long startedNanos = System.nanoTime();
  int records;
  int heldOut;

  PendingCommit(RetainStore store) {
    this.batch = store.newBatch();
  }

  /** Adds a trainable example of {@code lane}'s model read at {@code offset} of {@code tp}. */
  void trainable(Lanes.Lane lane, Example example, TopicPartition tp, long offset) {
    trainable.add(example);
    trainableLanes.add(lane);
    trainablePartitions.add(tp);
    trainableNext.add(offset + 1);
  }

  /** Counts an example of {@code lane}'s model held out. */
  void heldOut(Lanes.Lane lane) {
    heldOut++;
    heldOutBy.merge(lane, 1, Integer::sum);
  }

  void position(TopicPartition tp, long nextOffset) {
    positions.put(tp, new OffsetAndMetadata(nextOffset));
  }

  /** Adds the positions to the batch; called once, just before the write. */
  void sealPositions(String group) {
    positions.forEach((tp, om) -> Offsets.put(batch, group, tp, om.offset()));
  }

  long ageMillis() {
    return (System.nanoTime() - startedNanos) / 1_000_000;
  }
}
