package dev.retain.adapter;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Writes one adapter version, with its base, as a directory PEFT loads: {@code
 * adapter_config.json}, {@code adapter_model.safetensors} and {@code retain.json} at the top; the
 * base's weights in {@code base/model.safetensors} under the names a {@code torch.nn.Module} state
 * dict uses ({@code layers.N.weight}, {@code convs.C.weight}, ...); and {@code retain_model.py},
 * which builds that module. Reads the adapters and bases topics from their beginning to their
 * current end.
 */
public final class AdapterExport {
  public static final String BASE_FILE = "base/model.safetensors";
  public static final String MODULE_FILE = "retain_model.py";

  /** What was exported. */
  public record Exported(String version, String baseHash, Path dir) {}

  private AdapterExport() {}

  /**
   * Exports {@code version} of the configured model ({@code null}: the newest record, which is the
   * champion) into {@code out}.
   *
   * @throws IllegalArgumentException when the topic holds no such version or not its base
   */
  public static Exported export(RetainConfig config, String version, Path out) throws IOException {
    String model = config.getString(RetainConfig.MODEL_ID);
    ConsumerRecord<byte[], byte[]> found = null;
    Map<String, byte[]> bases = new HashMap<>();
    try (Consumer<byte[], byte[]> consumer = KafkaClients.follower(config, "retain-export")) {
      for (ConsumerRecord<byte[], byte[]> record :
          AdapterRecord.snapshot(consumer, List.of(config.basesTopic(), config.adaptersTopic()))) {
        if (record.value() == null) {
          continue;
        }
        if (record.topic().equals(config.basesTopic())) {
          bases.put(AdapterRecord.key(record), record.value());
        } else if (model.equals(AdapterRecord.key(record))
            && (version == null
                || version.equals(AdapterRecord.header(record, AdapterRecord.VERSION)))) {
          found = record;
        }
      }
    }
    if (found == null) {
      throw new IllegalArgumentException(
          "no "
              + (version == null ? "version" : "version " + version)
              + " of model "
              + model
              + " on "
              + config.adaptersTopic());
    }
    String baseHash = AdapterRecord.header(found, AdapterRecord.BASE_HASH);
    byte[] base = bases.get(baseHash);
    if (base == null) {
      throw new IllegalArgumentException(
          "the base " + baseHash + " is not on " + config.basesTopic());
    }
    AdapterArchive archive = AdapterArchive.fromZip(AdapterRecord.archiveBytes(found));
    write(archive, base, out);
    return new Exported(archive.version(), baseHash, out);
  }

  /** Writes the archive's files, the base and the module into {@code out}. */
  public static void write(AdapterArchive archive, byte[] base, Path out) throws IOException {
    Files.createDirectories(out.resolve("base"));
    for (Map.Entry<String, byte[]> file : archive.files().entrySet()) {
      Files.write(out.resolve(file.getKey()), file.getValue());
    }
    Files.write(out.resolve(BASE_FILE), base);
    try (InputStream module = AdapterExport.class.getResourceAsStream(MODULE_FILE)) {
      if (module == null) {
        throw new UncheckedIOException(new IOException(MODULE_FILE + " missing from the jar"));
      }
      Files.write(out.resolve(MODULE_FILE), module.readAllBytes());
    }
  }
}
