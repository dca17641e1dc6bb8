package dev.retain.train;

import dev.retain.model.LoraMlp;
import dev.retain.model.SafeTensors;
import dev.retain.store.Family;
import dev.retain.store.Keys;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Where a model's frozen base comes from and where it is kept: a safetensors file written by {@code
 * retain pretrain}, or the copy in the store made when the base was pretrained at first start. Its
 * identity is the SHA-256 of its safetensors encoding.
 */
public final class BaseModels {
  private BaseModels() {}

  private static byte[] key(String model) {
    return Keys.of("base").str(model).bytes();
  }

  /** The base kept in the store for {@code model}, or null. */
  public static SafeTensors.Contents load(RetainStore store, String model) {
    byte[] bytes = store.get(Family.META, key(model));
    return bytes == null ? null : SafeTensors.read(bytes);
  }

  /** Adds the model's base to {@code batch}, so that every restart uses the same one. */
  public static void save(StoreBatch batch, String model, LoraMlp base) {
    batch.put(Family.META, key(model), encode(base));
  }

  /** The base in safetensors form, with its layer sizes and hash as metadata. */
  public static byte[] encode(LoraMlp base) {
    return SafeTensors.write(
        base.baseTensors(),
        Map.of(
            "format", "retain-mlp-base",
            "sizes", Arrays.toString(base.sizes()),
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
  public static void writeFile(LoraMlp base, Path path) {
    try {
      Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
      Files.write(tmp, encode(base));
      Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the base model " + path, e);
    }
  }
}
