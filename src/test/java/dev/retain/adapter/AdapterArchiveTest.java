package dev.retain.adapter;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.model.SafeTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Pins the adapter format (PEFT layout) with golden files checked into the tests. */
class AdapterArchiveTest {
  private static final Path GOLDEN = Path.of("src/test/resources/golden");

  static AdapterArchive sample() {
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
    tensors.put("base_model.model.layers.0.lora_A.weight", tensor(2, 3, 0.5f));
    tensors.put("base_model.model.layers.0.lora_B.weight", tensor(4, 2, -0.25f));
    tensors.put("base_model.model.layers.1.lora_A.weight", tensor(2, 4, 1f));
    tensors.put("base_model.model.layers.1.lora_B.weight", tensor(2, 2, 2f));
    AdapterVersion version =
        new AdapterVersion(
            "m-s42-0123456789ab",
            "m",
            "m-s21-ba9876543210",
            "f".repeat(64),
            Map.of("domain-0", 0.75),
            Map.of("retain.examples-0", 1000L),
            42,
            1_700_000_000_000L);
    return AdapterArchive.of(
        version,
        new AdapterArchive.LoraSpec(2, 4.0, false),
        tensors,
        Map.of("seed", "7", "code_version", "test", "learned_from", "retain.examples-0:[0,1000)"));
  }

  private static SafeTensors.Tensor tensor(int rows, int cols, float scale) {
    float[] data = new float[rows * cols];
    for (int i = 0; i < data.length; i++) {
      data[i] = scale * (i - data.length / 2f);
    }
    return new SafeTensors.Tensor(new long[] {rows, cols}, data);
  }

  @Test
  void shouldMatchTheGoldenFilesByteForByte() throws IOException {
    Map<String, byte[]> files = sample().files();
    assertThat(files.get(AdapterArchive.WEIGHTS_FILE))
        .isEqualTo(Files.readAllBytes(GOLDEN.resolve("adapter_model.safetensors")));
    assertThat(new String(files.get(AdapterArchive.CONFIG_FILE), StandardCharsets.UTF_8))
        .isEqualTo(Files.readString(GOLDEN.resolve("adapter_config.json")));
    assertThat(new String(files.get(AdapterArchive.PROVENANCE_FILE), StandardCharsets.UTF_8))
        .isEqualTo(Files.readString(GOLDEN.resolve("retain.json")));
  }

  /** Reads the golden safetensors header with plain Java and Jackson, no tensor library. */
  @Test
  void shouldWriteSafetensorsThatPlainReadersUnderstand() throws IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(GOLDEN.resolve("adapter_model.safetensors"))) {
      bytes = in.readAllBytes();
    }
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(headerLength % 8).isZero();
    JsonNode header =
        new ObjectMapper()
            .readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8).trim());
    assertThat(header.fieldNames())
        .toIterable()
        .containsExactly(
            "__metadata__",
            "base_model.model.layers.0.lora_A.weight",
            "base_model.model.layers.0.lora_B.weight",
            "base_model.model.layers.1.lora_A.weight",
            "base_model.model.layers.1.lora_B.weight");
    JsonNode a0 = header.get("base_model.model.layers.0.lora_A.weight");
    assertThat(a0.get("dtype").asText()).isEqualTo("F32");
    assertThat(a0.get("shape").toString()).isEqualTo("[2,3]");
    assertThat(header.get("base_model.model.layers.0.lora_B.weight").get("shape").toString())
        .isEqualTo("[4,2]");
    long end = 0;
    for (String name : List.of("0.lora_A", "0.lora_B", "1.lora_A", "1.lora_B")) {
      JsonNode offsets =
          header.get("base_model.model.layers." + name + ".weight").get("data_offsets");
      assertThat(offsets.get(0).asLong()).isEqualTo(end);
      end = offsets.get(1).asLong();
    }
    assertThat(8 + headerLength + end).isEqualTo(bytes.length);
    float first =
        ByteBuffer.wrap(bytes, (int) (8 + headerLength), 4)
            .order(ByteOrder.LITTLE_ENDIAN)
            .getFloat();
    assertThat(first).isEqualTo(0.5f * (0 - 3f));
  }

  @Test
  void shouldCarryPeftFieldsAndProvenance() {
    JsonNode config = sample().config();
    assertThat(config.get("peft_type").asText()).isEqualTo("LORA");
    assertThat(config.get("r").asInt()).isEqualTo(2);
    assertThat(config.get("lora_alpha").asDouble()).isEqualTo(4.0);
    assertThat(config.get("target_modules").toString()).isEqualTo("[\"layers.0\",\"layers.1\"]");
    // PEFT builds a plain PeftModel (no task head expecting input_ids) and asks no model hub
    assertThat(config.get("task_type").isNull()).isTrue();
    assertThat(config.get("base_model_name_or_path").isNull()).isTrue();
    assertThat(config.has("retain")).as("no field PEFT does not know").isFalse();
    JsonNode retain = sample().provenance();
    assertThat(retain.get("version").asText()).isEqualTo("m-s42-0123456789ab");
    assertThat(retain.get("parent").asText()).isEqualTo("m-s21-ba9876543210");
    assertThat(retain.get("base_model_hash").asText()).hasSize(64);
    assertThat(retain.get("seed").asText()).isEqualTo("7");
    assertThat(retain.get("learned_from").asText()).isEqualTo("retain.examples-0:[0,1000)");
    assertThat(retain.get("evaluation").get("domain-0").asDouble()).isEqualTo(0.75);
    assertThat(retain.has("code_version")).isTrue();
    assertThat(retain.has("created_at")).isTrue();
  }

  @Test
  void shouldRoundTripThroughTheZipArchive() {
    AdapterArchive archive = sample();
    byte[] zip = archive.toZip();
    assertThat(archive.toZip()).as("deterministic bytes").isEqualTo(zip);
    AdapterArchive back = AdapterArchive.fromZip(zip);
    assertThat(back.version()).isEqualTo("m-s42-0123456789ab");
    assertThat(back.config().toString()).isEqualTo(archive.config().toString());
    assertThat(back.provenance().toString()).isEqualTo(archive.provenance().toString());
    back.tensors()
        .forEach((k, t) -> assertThat(t.data()).isEqualTo(archive.tensors().get(k).data()));
  }

  @Test
  void shouldDeriveTheSameVersionIdFromTheSamePositionOfOneStoreOnly() {
    String a = VersionIds.of("m", Map.of("t-0", 10L, "t-1", 5L), 100, "base", "store-a");
    assertThat(
            VersionIds.of(
                "m",
                new java.util.TreeMap<>(Map.of("t-1", 5L, "t-0", 10L)),
                100,
                "base",
                "store-a"))
        .isEqualTo(a);
    assertThat(VersionIds.of("m", Map.of("t-0", 11L, "t-1", 5L), 100, "base", "store-a"))
        .isNotEqualTo(a);
    assertThat(VersionIds.of("n", Map.of("t-0", 10L, "t-1", 5L), 100, "base", "store-a"))
        .isNotEqualTo(a);
    assertThat(VersionIds.of("m", Map.of("t-0", 10L, "t-1", 5L), 100, "other", "store-a"))
        .as("another base")
        .isNotEqualTo(a);
    assertThat(VersionIds.of("m", Map.of("t-0", 10L, "t-1", 5L), 100, "base", "store-b"))
        .as("another learner's store")
        .isNotEqualTo(a);
    assertThat(a).startsWith("m-s100-");
  }

  /** An archive written before provenance had its own file still reads, with its provenance. */
  @Test
  void shouldReadArchivesWithProvenanceInTheConfig() throws IOException {
    AdapterArchive archive = sample();
    com.fasterxml.jackson.databind.node.ObjectNode old = archive.config().deepCopy();
    old.set("retain", archive.provenance());
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(bytes)) {
      zip.putNextEntry(new java.util.zip.ZipEntry(AdapterArchive.CONFIG_FILE));
      zip.write(new ObjectMapper().writeValueAsBytes(old));
      zip.putNextEntry(new java.util.zip.ZipEntry(AdapterArchive.WEIGHTS_FILE));
      zip.write(archive.files().get(AdapterArchive.WEIGHTS_FILE));
    }
    AdapterArchive back = AdapterArchive.fromZip(bytes.toByteArray());
    assertThat(back.version()).isEqualTo("m-s42-0123456789ab");
    assertThat(back.config().has("retain")).isFalse();
  }

  /** Regenerates the golden files; run by hand after an intended format change. */
  public static void main(String[] args) throws IOException {
    Map<String, byte[]> files = sample().files();
    Files.write(
        GOLDEN.resolve("adapter_model.safetensors"), files.get(AdapterArchive.WEIGHTS_FILE));
    Files.write(GOLDEN.resolve("adapter_config.json"), files.get(AdapterArchive.CONFIG_FILE));
    Files.write(GOLDEN.resolve("retain.json"), files.get(AdapterArchive.PROVENANCE_FILE));
  }
}
