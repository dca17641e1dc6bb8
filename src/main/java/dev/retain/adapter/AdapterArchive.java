package dev.retain.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.model.SafeTensors;
import dev.retain.model.TensorNames;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.attribute.FileTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * An adapter version in the layout Hugging Face PEFT reads: {@code adapter_config.json} (a LoRA
 * config with PEFT's fields only, so {@code PeftModel.from_pretrained} over the user's own {@code
 * torch.nn.Module} accepts it without a warning), {@code adapter_model.safetensors} (keys {@code
 * base_model.model.<module>.lora_A.weight} / {@code lora_B.weight}) and Retain's provenance in
 * {@code retain.json}, which PEFT does not read. Packed as a zip archive: the value of an
 * adapters-topic record.
 */
public record AdapterArchive(
    JsonNode config, JsonNode provenance, Map<String, SafeTensors.Tensor> tensors) {
  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";
  public static final String PROVENANCE_FILE = "retain.json";
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final FileTime EPOCH = FileTime.fromMillis(0);

  /** LoRA settings of the adapter: PEFT's config fields. */
  public record LoraSpec(int rank, double alpha, boolean rsLora) {}

  /** The PEFT config of {@code version} with its provenance. */
  public static AdapterArchive of(
      AdapterVersion version,
      LoraSpec lora,
      Map<String, SafeTensors.Tensor> tensors,
      Map<String, String> provenance) {
    ObjectNode config = JSON.createObjectNode();
    config.put("peft_type", "LORA");
    config.putNull("task_type"); // a plain PeftModel: forward passes the inputs through unchanged
    config.put("r", lora.rank());
    config.put("lora_alpha", lora.alpha());
    config.put("lora_dropout", 0.0);
    config.put("bias", "none");
    config.put("use_rslora", lora.rsLora());
    config.put("fan_in_fan_out", false);
    config.put("inference_mode", true);
    config.set("target_modules", JSON.valueToTree(targetModules(tensors)));
    config.putNull("base_model_name_or_path"); // the base comes with the export, not from a hub
    ObjectNode retain = JSON.createObjectNode();
    retain.put("version", version.id());
    retain.put("parent", version.parent());
    retain.put("model", version.model());
    retain.put("base_model_hash", version.baseHash());
    retain.put("steps", version.steps());
    retain.put("created_at", version.createdAt());
    retain.set("evaluation", JSON.valueToTree(version.evaluation()));
    retain.put("average_accuracy", version.averageAccuracy());
    retain.set("positions", JSON.valueToTree(version.positions()));
    new java.util.TreeMap<>(provenance).forEach(retain::put);
    return new AdapterArchive(config, retain, tensors);
  }

  /** The module names the tensors adapt, sorted. */
  static List<String> targetModules(Map<String, SafeTensors.Tensor> tensors) {
    TreeSet<String> modules = new TreeSet<>();
    for (String key : tensors.keySet()) {
      modules.add(TensorNames.moduleOf(key));
    }
    return List.copyOf(modules);
  }

  /** The version id recorded in the provenance. */
  public String version() {
    return provenance.path("version").asText();
  }

  /** The three files by name. */
  public Map<String, byte[]> files() {
    Map<String, byte[]> files = new LinkedHashMap<>();
    try {
      files.put(CONFIG_FILE, JSON.writeValueAsBytes(config));
      files.put(WEIGHTS_FILE, SafeTensors.write(tensors, Map.of("format", "pt")));
      files.put(PROVENANCE_FILE, JSON.writeValueAsBytes(provenance));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return files;
  }

  /**
   * The zip archive of {@link #files()}, with fixed entry times so equal content gives equal bytes.
   */
  public byte[] toZip() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      for (Map.Entry<String, byte[]> file : files().entrySet()) {
        ZipEntry entry = new ZipEntry(file.getKey());
        entry.setLastModifiedTime(EPOCH);
        zip.putNextEntry(entry);
        zip.write(file.getValue());
        zip.closeEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * Reads an archive written by {@link #toZip()}; fails when a file is missing. Archives written
   * before {@code retain.json} existed carry the provenance under the config's {@code "retain"}.
   */
  public static AdapterArchive fromZip(byte[] zipped) {
    Map<String, byte[]> files = new LinkedHashMap<>();
    try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(zipped))) {
      for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
        files.put(entry.getName(), zip.readAllBytes());
      }
      return fromFiles(files);
    } catch (IOException e) {
      throw new IllegalArgumentException("unreadable adapter archive: " + e.getMessage(), e);
    }
  }

  private static AdapterArchive fromFiles(Map<String, byte[]> files) throws IOException {
    if (!files.containsKey(CONFIG_FILE) || !files.containsKey(WEIGHTS_FILE)) {
      throw new IllegalArgumentException(
          "adapter archive lacks " + CONFIG_FILE + " or " + WEIGHTS_FILE);
    }
    ObjectNode config = (ObjectNode) JSON.readTree(files.get(CONFIG_FILE));
    JsonNode provenance =
        files.containsKey(PROVENANCE_FILE)
            ? JSON.readTree(files.get(PROVENANCE_FILE))
            : config.remove("retain"); // archives written before provenance had its own file
    return new AdapterArchive(
        config,
        provenance == null ? JSON.createObjectNode() : provenance,
        SafeTensors.read(files.get(WEIGHTS_FILE)).tensors());
  }
}
