package dev.retain.train;

import ai.djl.ndarray.NDManager;
import dev.retain.config.RetainConfig;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.store.Blob;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where a model's frozen base comes from and where it is kept: a safetensors file written by {@code
 * retain pretrain}, or the copy in the store made when the base was pretrained at first start. Its
 * identity is the SHA-256 of its safetensors encoding.
 */
public final class BaseModels {
  private BaseModels() {}

  /** A fresh model of the configured architecture and adapter; its base is random until loaded. */
  public static LoraNet create(NDManager manager, RetainConfig config) {
    return LoraNet.create(
        manager,
        config.architecture(),
        config.getInt(RetainConfig.LORA_RANK),
        config.getDouble(RetainConfig.LORA_ALPHA).floatValue(),
        config.getBoolean(RetainConfig.LORA_RSLORA),
        config.getBoolean(RetainConfig.LORA_CONV));
  }

  /** The base kept in the store for {@code model}, or null. */
  public static SafeTensors.Contents load(RetainStore store, String model) {
    byte[] bytes = store.get(Blob.BASE, model);
    return bytes == null ? null : SafeTensors.read(bytes);
  }

  /** Adds the model's base to {@code batch}, so that every restart uses the same one. */
  public static void save(StoreBatch batch, String model, LoraNet base) {
    batch.put(Blob.BASE, encode(base), model);
  }

  /** The base in safetensors form, with its architecture and hash as metadata. */
  public static byte[] encode(LoraNet base) {
    return SafeTensors.write(
        base.baseTensors(),
        Map.of(
            "format", "retain-base",
            "architecture", base.architecture().toString(),
            "base_hash", base.baseHash()));
  }

  /** Reads a base file written by {@code retain pretrain}. */
  public static SafeTensors.Contents readFile(Path path) {
    try {
      return SafeTensors.read(Files.readAllBytes(path));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the base model " + path, e);
    }
  }

  /** Writes {@code base} to {@code path} atomically (temporary file, then rename). */
  public static void writeFile(LoraNet base, Path path) {
    try {
      Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
      Files.write(tmp, encode(base));
      Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the base model " + path, e);
    }
  }
}
