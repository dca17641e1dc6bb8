package dev.retain.publish;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.adapter.AdapterVersion;
import dev.retain.store.Blob;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The version registry of one model, in the store's {@code adapters} family: every promoted version
 * (its record and its archive, so that a rollback can publish it again) and the champion.
 */
public final class Registry {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final RetainStore store;
  private final String model;

  public Registry(RetainStore store, String model) {
    this.store = store;
    this.model = model;
  }

  /** Records a promoted version with its archive and makes it champion, atomically. */
  public void promote(AdapterVersion version, byte[] archive) {
    try (StoreBatch batch = store.newBatch()) {
      batch.put(Blob.VERSION, JSON.writeValueAsBytes(version), model, version.id());
      batch.put(Blob.ARCHIVE, archive, model, version.id());
      batch.put(Blob.CHAMPION, version.id().getBytes(StandardCharsets.UTF_8), model);
      store.commit(batch);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Makes an earlier version champion again. */
  public void setChampion(String id) {
    if (version(id) == null) {
      throw new IllegalArgumentException("unknown version " + id + " of model " + model);
    }
    try (StoreBatch batch = store.newBatch()) {
      batch.put(Blob.CHAMPION, id.getBytes(StandardCharsets.UTF_8), model);
      store.commit(batch);
    }
  }

  /** The champion, or null before the first promotion. */
  public AdapterVersion champion() {
    byte[] id = store.get(Blob.CHAMPION, model);
    return id == null ? null : version(new String(id, StandardCharsets.UTF_8));
  }

  public AdapterVersion version(String id) {
    byte[] bytes = store.get(Blob.VERSION, model, id);
    try {
      return bytes == null ? null : JSON.readValue(bytes, AdapterVersion.class);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt version record " + id, e);
    }
  }

  public byte[] archive(String id) {
    return store.get(Blob.ARCHIVE, model, id);
  }

  /** Every promoted version, oldest first. */
  public List<AdapterVersion> history() {
    List<AdapterVersion> out = new ArrayList<>();
    store.scan(
        Blob.VERSION,
        new String[] {model},
        (key, value) -> {
          try {
            out.add(JSON.readValue(value, AdapterVersion.class));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
    out.sort(
        Comparator.comparingLong(AdapterVersion::createdAt).thenComparing(AdapterVersion::steps));
    return out;
  }
}
