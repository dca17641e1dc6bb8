package dev.retain.train;

import dev.retain.store.RetainStore;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/** Where a model's learner had trained up to when it last saved its checkpoint. */
public final class TrainedPositions {
  private TrainedPositions() {}

  /**
   * Where the last checkpoint of {@code model}'s learner says it had trained up to, per partition
   * (empty without a checkpoint): ingest hands the learner what lies between that and its stored
   * position again after a restart.
   */
  public static Map<TopicPartition, Long> of(RetainStore store, String model) {
    Checkpoints.Restored restored = Checkpoints.load(store, model);
    return restored == null ? Map.of() : restored.positions();
  }
}
