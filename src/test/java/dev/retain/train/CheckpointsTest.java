package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.model.LoraNet;
import dev.retain.store.RetainStore;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
  @TempDir Path dir;

  @Test
  void shouldRestoreTheReplayTargetsAndTheMatrixWithTheLearner() {
    Engine.getInstance().setRandomSeed(2);
    Map<String, float[]> targets = new LinkedHashMap<>();
    targets.put("id-1", new float[] {1f, 2f, 3f});
    targets.put("id \"2\", with, commas", new float[] {-1f, 0f, 0.5f});
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {8, 6, 3}, 2, 4, false);
        RetainStore store = RetainStore.open(dir, false)) {
      Learner learner = new Learner(model, 8, 1e-3f, 0f, 1f);
      Map<org.apache.kafka.common.TopicPartition, Long> positions =
          Map.of(
              new org.apache.kafka.common.TopicPartition("retain.examples", 0), 1234L,
              new org.apache.kafka.common.TopicPartition("my-topic-with-dashes", 11), 7L);
      Checkpoints.save(
          store, "m", learner, targets, List.of(Map.of("d0", 0.5)), List.of("d0"), "d0", positions);
      Checkpoints.Restored restored = Checkpoints.load(store, "m");
      assertThat(restored.targets()).containsOnlyKeys(targets.keySet());
      targets.forEach((id, t) -> assertThat(restored.targets().get(id)).isEqualTo(t));
      assertThat(restored.learner().tensors()).doesNotContainKey("replay.targets");
      assertThat(restored.rows()).containsExactly(new Checkpoints.Row("d0", Map.of("d0", 0.5)));
      assertThat(restored.domain()).isEqualTo("d0");
      assertThat(restored.positions()).as("what it had trained through").isEqualTo(positions);

      Checkpoints.save(store, "m", learner, Map.of(), List.of(), List.of(), null, Map.of());
      assertThat(Checkpoints.load(store, "m").targets()).isEmpty();
    }
  }
}
