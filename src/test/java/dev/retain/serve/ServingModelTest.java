package dev.retain.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterVersion;
import dev.retain.data.DriftStream;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.train.Learner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The merged plain-Java model must answer like the engine's base + LoRA forward pass. */
class ServingModelTest {
  @Test
  void shouldMatchTheEngineForwardPassAfterMergingTheAdapter() {
    Engine.getInstance().setRandomSeed(11);
    // 200 inputs into 96 outputs: wider than one cache block of the merged forward pass
    var stream = new DriftStream(200, 4, 1.5f, 5);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {200, 96, 16, 4}, 4, 8, false)) {
      Learner learner = new Learner(model, 200, 1e-2f, 0f, 1f);
      for (int i = 0; i < 20; i++) {
        List<Example> batch = new ArrayList<>();
        for (int j = 0; j < 32; j++) {
          batch.add(stream.example(1, i * 32L + j));
        }
        learner.step(batch, List.of());
      }
      AdapterVersion version =
          new AdapterVersion("v", "m", "", model.baseHash(), Map.of(), Map.of(), 20, 0);
      AdapterArchive archive =
          AdapterArchive.of(
              version, new AdapterArchive.LoraSpec(4, 8, false), model.adapterTensors(), Map.of());
      Map<String, SafeTensors.Tensor> base = model.baseTensors();
      ServingModel serving = ServingModel.merge(base, AdapterArchive.fromZip(archive.toZip()));
      List<float[]> batch = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        float[] x = stream.example(1, 5000 + i).features();
        batch.add(x);
        NDArray logits = model.forward(manager.create(x).reshape(1, 200));
        float[] expected = logits.softmax(1).toFloatArray();
        float[] actual = serving.probabilities(x);
        for (int k = 0; k < expected.length; k++) {
          assertThat(actual[k]).isCloseTo(expected[k], within(1e-4f));
        }
      }
      float[][] batched = serving.probabilities(batch);
      for (int i = 0; i < batch.size(); i++) {
        assertThat(batched[i]).containsExactly(serving.probabilities(batch.get(i)), within(0f));
      }
      assertThat(serving.version()).isEqualTo("v");
    }
  }
}
