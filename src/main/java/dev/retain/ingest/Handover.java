package dev.retain.ingest;

import dev.retain.record.Example;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * One committed batch's trainable examples as ingest hands them to the learner, with where each
 * came from, so that the learner's position (what it has trained on) is exact to the example.
 *
 * @param examples the batch's trainable examples, in offset order per partition (may be empty)
 * @param partitions each example's partition
 * @param nextOffsets each example's offset plus one
 * @param positions the next offset per partition once the whole batch is consumed (held-out and
 *     rejected records included)
 */
public record Handover(
    List<Example> examples,
    List<TopicPartition> partitions,
    long[] nextOffsets,
    Map<TopicPartition, Long> positions) {
  public Handover {
    if (partitions.size() != examples.size() || nextOffsets.length != examples.size()) {
      throw new IllegalArgumentException(
          examples.size()
              + " examples, "
              + partitions.size()
              + " partitions and "
              + nextOffsets.length
              + " offsets");
    }
  }
}
