package dev.retain.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.Loss;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Engine-level facts of the LoRA model that training relies on. */
class LoraNetTest {
  private static final int FEATURES = 16;

  /**
   * A garbage collection between the forward and the backward pass, with the freed memory reused at
   * once, must not change the gradients. It did while the LoRA scaling was a Java number: the
   * engine freed the array it made for it while autograd still needed it, and the adapter was
   * corrupted at random in long runs.
   */
  @ParameterizedTest
  @ValueSource(strings = {"mlp", "cnn"})
  void shouldComputeTheSameGradientsWhenMemoryIsCollectedAndReusedBeforeBackward(String arch) {
    Architecture architecture =
        arch.equals("mlp")
            ? Architecture.mlp(new int[] {FEATURES, 8, 3})
            : Architecture.cnn(4, new int[] {2}, new int[] {8}, 3); // 4x4 image, conv LoRA too
    Map<String, float[]> quiet = gradients(architecture, false);
    Map<String, float[]> churned = gradients(architecture, true);
    assertThat(churned.keySet()).isEqualTo(quiet.keySet());
    quiet.forEach((k, g) -> assertThat(churned.get(k)).as(k).isEqualTo(g));
    quiet.values().forEach(g -> assertThat(g).doesNotContain(Float.NaN));
  }

  private static Map<String, float[]> gradients(Architecture arch, boolean churn) {
    Engine.getInstance().setRandomSeed(13);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, arch, 2, 4, false, arch.convolutional())) {
      // a non-zero B, so that every adapter weight has a gradient
      model.adapterParameters().forEach(p -> p.stopGradient().addi(0.1f));
      NDArray x = manager.randomNormal(new Shape(4, FEATURES));
      NDArray y = manager.create(new long[] {0, 1, 2, 1});
      try (NDScope scope = new NDScope();
          GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        scope.suppressNotUsedWarning();
        NDArray loss =
            Loss.softmaxCrossEntropyLoss().evaluate(new NDList(y), new NDList(model.forward(x)));
        List<ByteBuffer> reuse = new ArrayList<>();
        for (int round = 0; churn && round < 20; round++) {
          System.gc(); // frees direct buffers that nothing references any more
          for (int i = 0; i < 2000; i++) { // small allocations take the freed blocks back
            ByteBuffer b = ByteBuffer.allocateDirect(4);
            b.putFloat(0, Float.NaN);
            reuse.add(b);
          }
        }
        collector.backward(loss);
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        List<NDArray> params = model.adapterParameters();
        for (int i = 0; i < params.size(); i++) {
          out.put("param-" + i, params.get(i).getGradient().toFloatArray());
        }
        return out;
      }
    }
  }

  /**
   * The MLP's training pass derives the adapter's gradients by hand: they must equal autograd's for
   * the same loss gradient, whether the first layer's frozen output is computed or handed in for
   * the first rows, the last ones, both or all, and its logits must equal the plain forward pass's.
   */
  @Test
  void shouldDeriveTheSameAdapterGradientsByHandAsAutograd() {
    Engine.getInstance().setRandomSeed(21);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {FEATURES, 12, 8, 3}, 2, 4, false)) {
      List<NDArray> params = model.adapterParameters();
      params.forEach(p -> p.stopGradient().addi(manager.randomNormal(p.getShape()).muli(0.3f)));
      NDArray x = manager.randomNormal(new Shape(6, FEATURES));
      NDArray gradLogits = manager.randomNormal(new Shape(6, 3));
      float[] forward;
      List<float[]> autograd = new ArrayList<>();
      try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
        NDArray logits = model.forward(x);
        forward = logits.toFloatArray();
        collector.backward(logits.mul(gradLogits).sum());
      }
      params.forEach(p -> autograd.add(p.getGradient().toFloatArray()));
      assertThat(model.hasFrozenFirstLayer()).isTrue();
      NDArray frozen;
      try (Pass pass = model.pass(x, 0, null, null)) {
        frozen = pass.frozenFirstLayer().duplicate();
      }
      assertThat(frozen.getShape()).isEqualTo(new Shape(6, model.firstLayerWidth()));
      // {head, tail}: the head rows' product is its own (or handed in), the tail's handed in
      for (int[] split : new int[][] {{0, 0}, {0, 2}, {0, 6}, {2, 0}, {6, 0}, {2, 3}, {3, 3}}) {
        for (boolean headGiven : new boolean[] {false, true}) {
          int head = split[0];
          int tail = split[1];
          String what = head + " head rows (handed in: " + headGiven + "), " + tail + " tail rows";
          NDArray frozenHead = headGiven && head > 0 ? frozen.get(new NDIndex("0:{}", head)) : null;
          NDArray frozenTail = tail == 0 ? null : frozen.get(new NDIndex("{}:", 6 - tail));
          try (Pass pass = model.pass(x, head, frozenHead, frozenTail)) {
            assertClose(pass.frozenFirstLayer().toFloatArray(), frozen.toFloatArray(), what);
            assertClose(pass.logits().toFloatArray(), forward, "logits, " + what);
            List<NDArray> byHand = pass.backward(gradLogits);
            assertThat(byHand).hasSameSizeAs(params);
            for (int i = 0; i < params.size(); i++) {
              assertThat(byHand.get(i).getShape()).isEqualTo(params.get(i).getShape());
              assertClose(
                  byHand.get(i).toFloatArray(), autograd.get(i), "param " + i + ", " + what);
            }
          }
          try (Pass again = model.pass(x, head, frozenHead, frozenTail)) {
            assertClose(again.backwardVector(gradLogits), concat(autograd), "vector, " + what);
          }
        }
      }
      assertThat(autograd.get(0))
          .as("a gradient reaches the first layer")
          .isNotEqualTo(new float[autograd.get(0).length]);
    }
  }

  /** The parameters' values one after the other, as the adapter vector lays them out. */
  private static float[] concat(List<float[]> parts) {
    float[] out = new float[parts.stream().mapToInt(p -> p.length).sum()];
    int offset = 0;
    for (float[] part : parts) {
      System.arraycopy(part, 0, out, offset, part.length);
      offset += part.length;
    }
    return out;
  }

  private static void assertClose(float[] actual, float[] expected, String what) {
    assertThat(actual).as(what).hasSameSizeAs(expected);
    for (int i = 0; i < expected.length; i++) {
      assertThat(actual[i])
          .as(what + "[" + i + "]")
          .isCloseTo(expected[i], within(1e-5f + 1e-4f * Math.abs(expected[i])));
    }
  }
}
