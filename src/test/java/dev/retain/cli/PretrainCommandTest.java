package dev.retain.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.JsonExampleCodec;
import dev.retain.testing.TestData;
import dev.retain.train.BaseModels;
import dev.retain.train.Learner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `retain pretrain --file` trains a base that knows domain 0, loadable by the learner. */
class PretrainCommandTest {
  @TempDir Path dir;

  @Test
  void shouldWriteABaseThatClassifiesItsDomainAndIsIdentifiedByItsHash() throws Exception {
    var stream = TestData.driftStream();
    JsonExampleCodec json = new JsonExampleCodec();
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 1500; i++) {
      lines.add(new String(json.encode(stream.example(0, i)), StandardCharsets.UTF_8));
    }
    lines.add("{not json");
    Path data = Files.write(dir.resolve("examples.jsonl"), lines);
    Path out = dir.resolve("base.safetensors");
    int rc =
        Main.commandLine()
            .execute(
                "pretrain",
                "--file",
                data.toString(),
                "--epochs",
                "5",
                "--out",
                out.toString(),
                "-s",
                "retain.record.features=32",
                "-s",
                "retain.record.classes=4",
                "-s",
                "retain.model.hidden.layers=64");
    assertThat(rc).isZero();
    SafeTensors.Contents base = BaseModels.readFile(out);
    assertThat(base.tensors()).containsKeys("layers.0.weight", "layers.1.bias");
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = LoraNet.create(manager, new int[] {32, 64, 4}, 8, 16, false)) {
      model.loadBase(base.tensors());
      assertThat(model.baseHash()).isEqualTo(base.metadata().get("base_hash"));
      List<dev.retain.record.Example> test = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        test.add(stream.example(0, 50_000 + i));
      }
      assertThat(new Learner(model, 32, 1e-3f, 0f, 1f).accuracy(test)).isGreaterThan(0.8);
    }
  }
}
