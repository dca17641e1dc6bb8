package dev.retain.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterVersion;
import dev.retain.data.DriftStream;
import dev.retain.record.Example;
import dev.retain.serve.ServingModel;
import dev.retain.train.Devices;
import dev.retain.train.Learner;
import dev.retain.train.Pretrainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The small CNN base with LoRA on its Linear layers and, when configured, its convolutions. */
class LoraCnnTest {
  private static final int SIDE = 8;
  private static final Architecture ARCH =
      Architecture.cnn(SIDE, new int[] {4, 6}, new int[] {16}, 4);
  private final DriftStream stream = new DriftStream(SIDE * SIDE, 4, 1.5f, 5);

  /**
   * One intra-op engine thread on this thread, as the learner's thread has by default (the engine
   * keeps the count per thread, and may have started on another): with two, libtorch's CPU
   * convolution backward pass returned uninitialised values now and then on an AMD EPYC. The build
   * runs every test class in a JVM of its own for the same reason (see pom.xml).
   */
  @BeforeEach
  void oneEngineThread() {
    Engine.getInstance(); // loads the native library that useThreads calls
    Devices.useThreads(1);
  }

  private List<Example> domain(int d, int from, int count) {
    List<Example> out = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      out.add(stream.example(d, i));
    }
    return out;
  }

  private static AdapterArchive archive(LoraNet model, int rank, float alpha) {
    AdapterVersion version =
        new AdapterVersion("v", "m", "", model.baseHash(), Map.of(), Map.of(), 1, 0);
    return AdapterArchive.of(
        version, new AdapterArchive.LoraSpec(rank, alpha, false), model.adapterTensors(), Map.of());
  }

  @Test
  void shouldDescribeTheShapesOfAConvolutionalBase() {
    assertThat(ARCH.features()).isEqualTo(64);
    assertThat(ARCH.sizes()).containsExactly(6 * 2 * 2, 16, 4);
    assertThat(ARCH).hasToString("cnn 8x8 c4-6 dense 24-16-4");
    assertThat(Architecture.cnn(28, new int[] {16, 32}, new int[] {256, 256}, 10).sizes())
        .containsExactly(32 * 7 * 7, 256, 256, 10);
  }

  @Test
  void shouldNameConvAdaptersAsPeftDoesAndStartWithAZeroB() {
    Engine.getInstance().setRandomSeed(2);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, ARCH, 3, 6, false, true)) {
      Map<String, SafeTensors.Tensor> adapter = model.adapterTensors();
      assertThat(adapter.get("base_model.model.convs.0.lora_A.weight").shape())
          .containsExactly(3, 1, 3, 3);
      assertThat(adapter.get("base_model.model.convs.1.lora_B.weight").shape())
          .containsExactly(6, 3, 1, 1);
      assertThat(adapter.get("base_model.model.convs.1.lora_B.weight").data()).containsOnly(0f);
      assertThat(adapter.get("base_model.model.layers.0.lora_A.weight").shape())
          .containsExactly(3, 24);
      assertThat(model.baseTensors().get("convs.1.weight").shape()).containsExactly(6, 4, 3, 3);
      assertThat(model.adapterParameters()).hasSize(2 * 2 + 2 * 2);
      assertThat(archive(model, 3, 6).config().path("target_modules").toString())
          .isEqualTo("[\"convs.0\",\"convs.1\",\"layers.0\",\"layers.1\"]");
    }
  }

  /**
   * Pretraining and 40 steps of the adapter. On an AMD EPYC the engine's CPU convolution passes
   * returned garbage now and then (about one run in 20, see the design notes' known issues): such a
   * run shows as steps skipped for a non-finite gradient, and is run again, at most twice more. A
   * run without that fault must learn.
   */
  @Test
  void shouldTrainOnlyTheAdapterAndServeTheSameAnswersFromTheMergedModel() {
    int attempt = 1;
    while (!learnsAndServes(attempt)) {
      attempt++;
    }
  }

  /** False when a native fault spoilt the run and another attempt is due. */
  private boolean learnsAndServes(int attempt) {
    Engine.getInstance().setRandomSeed(4);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, ARCH, 4, 8, false, true)) {
      long faults = Pretrainer.train(model, domain(0, 0, 800), 3, 32, 1e-2f, 1);
      Learner learner = new Learner(model, ARCH.features(), 1e-2f, 0f, 1f);
      String baseHash = model.baseHash();
      List<Example> test = domain(1, 5000, 300);
      double before = learner.accuracy(test);
      for (int i = 0; i < 40; i++) {
        learner.step(domain(1, i * 32, 32), List.of());
      }
      if (faults + learner.skippedSteps() > 0 && attempt < 3) {
        System.out.printf(
            "attempt %d: %d pretraining and %d training steps skipped for a non-finite gradient:"
                + " a native fault, running again%n",
            attempt, faults, learner.skippedSteps());
        return false;
      }
      double after = learner.accuracy(test);
      System.out.printf("cnn adapter on a new domain: %.3f -> %.3f%n", before, after);
      assertThat(after).isGreaterThan(before + 0.1);
      assertThat(model.baseHash()).as("the base stays frozen").isEqualTo(baseHash);
      assertThat(model.adapterTensors().get("base_model.model.convs.0.lora_B.weight").data())
          .as("conv LoRA trained")
          .isNotEqualTo(new float[4 * 4]);

      ServingModel serving =
          ServingModel.merge(
              model.baseTensors(), AdapterArchive.fromZip(archive(model, 4, 8).toZip()));
      assertThat(serving.features()).isEqualTo(64);
      List<float[]> batch = new ArrayList<>();
      for (Example e : test.subList(0, 30)) {
        batch.add(e.features());
        NDArray logits = model.forward(manager.create(e.features()).reshape(1, 64));
        float[] expected = logits.softmax(1).toFloatArray();
        assertThat(serving.probabilities(e.features())).containsExactly(expected, within(1e-4f));
      }
      float[][] batched = serving.probabilities(batch);
      for (int i = 0; i < batch.size(); i++) {
        assertThat(batched[i]).containsExactly(serving.probabilities(batch.get(i)), within(0f));
      }
    }
    return true;
  }

  @Test
  void shouldAdaptOnlyTheLinearLayersWithoutConvLora() {
    Engine.getInstance().setRandomSeed(6);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, ARCH, 4, 8, false, false)) {
      assertThat(model.adapterTensors().keySet()).noneMatch(k -> k.contains("convs"));
      Learner learner = new Learner(model, ARCH.features(), 1e-2f, 0f, 1f);
      for (int i = 0; i < 5; i++) {
        learner.step(domain(1, i * 32, 32), List.of());
      }
      ServingModel serving = ServingModel.merge(model.baseTensors(), archive(model, 4, 8));
      float[] x = stream.example(1, 9000).features();
      float[] expected = model.forward(manager.create(x).reshape(1, 64)).softmax(1).toFloatArray();
      assertThat(serving.probabilities(x)).containsExactly(expected, within(1e-4f));
    }
  }
}
