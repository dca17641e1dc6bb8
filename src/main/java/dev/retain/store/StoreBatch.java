package dev.retain.store;

import java.util.Objects;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * Changes that {@link RetainStore#commit} writes atomically: all of them or none survive a crash.
 * Not thread-safe; owned by the thread that builds it and closed by {@code commit} or the caller.
 */
public final class StoreBatch implements AutoCloseable {
  private final RetainStore store;
  private final WriteBatch batch = new WriteBatch();

  StoreBatch(RetainStore store) {
    this.store = store;
  }

  /** Puts the value of {@code blob} for {@code parts} (see {@link Blob}). */
  public StoreBatch put(Blob blob, byte[] value, String... parts) {
    return put(blob.family(), blob.key(parts), value);
  }

  StoreBatch put(Family family, byte[] key, byte[] value) {
    Objects.requireNonNull(value, "value");
    try {
      batch.put(store.handle(family), key, value);
    } catch (RocksDBException e) {
      throw new StoreException("batch put failed", e);
    }
    return this;
  }

  StoreBatch delete(Family family, byte[] key) {
    try {
      batch.delete(store.handle(family), key);
    } catch (RocksDBException e) {
      throw new StoreException("batch delete failed", e);
    }
    return this;
  }

  public int size() {
    return batch.count();
  }

  WriteBatch writeBatch() {
    return batch;
  }

  @Override
  public void close() {
    batch.close();
  }
}
