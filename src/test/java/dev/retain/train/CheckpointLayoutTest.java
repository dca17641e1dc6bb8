package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.Blob;
import dev.retain.store.RetainStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pins the layout of the learner's checkpoint as the store keeps it: the two values' tensor names
 * and shapes, their metadata keys and the metadata that does not depend on training. A learner of
 * an older release must restart from it.
 */
class CheckpointLayoutTest {
  private static final String GOLDEN = "/golden/checkpoint-v1.txt";
  @TempDir Path dir;

  @Test
  void shouldWriteTheGoldenCheckpointLayout() throws IOException {
    Engine.getInstance().setRandomSeed(3);
    String layout;
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {4, 3, 2}, 2, 4, false);
        RetainStore store = RetainStore.open(dir.resolve("db"), false)) {
      Learner learner = new Learner(model, 4, 1e-3f, 1f, 0.9f);
      Example e = new Example("e", new float[] {1f, 0f, -1f, 0.5f}, 1, "d0", 0L);
      learner.step(List.of(e), List.of());
      learner.consolidate(List.of(e));
      Map<TopicPartition, Long> positions = Map.of(new TopicPartition("retain.examples", 0), 9L);
      Map<String, float[]> targets = Map.of("e", new float[] {0.5f, -0.5f});
      Checkpoints.save(
          store, "m", learner, targets, List.of(Map.of("d0", 0.5)), List.of("d0"), "d0", positions);
      layout =
          describe("checkpoint", store.get(Blob.CHECKPOINT, "m"))
              + describe("ewc", store.get(Blob.EWC_STATE, "m"));
    }
    try (InputStream in = getClass().getResourceAsStream(GOLDEN)) {
      if (in == null) {
        Path out = Path.of("target", "checkpoint-v1.txt");
        Files.writeString(out, layout);
        throw new AssertionError("no " + GOLDEN + "; this build's layout is in " + out);
      }
      assertThat(layout).isEqualTo(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  /** Tensor names and shapes, then metadata keys (values of those training does not change). */
  private static String describe(String what, byte[] value) {
    SafeTensors.Contents contents = SafeTensors.read(value);
    List<String> lines = new ArrayList<>();
    contents
        .tensors()
        .forEach((k, t) -> lines.add(what + " tensor " + k + " " + Arrays.toString(t.shape())));
    new TreeMap<>(contents.metadata())
        .forEach(
            (k, v) ->
                lines.add(
                    what
                        + " meta "
                        + k
                        + (k.equals("steps") || k.startsWith("adam") ? "" : " = " + v)));
    return String.join("\n", lines) + "\n";
  }
}
