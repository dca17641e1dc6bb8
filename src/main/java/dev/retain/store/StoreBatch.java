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
  private final java.util.List<Change> changes; // null unless the store has a changelog

  /** One put (a value) or delete (null) in a batch, as a changelog sends it. */
  record Change(Family family, byte[] key, byte[] value) {}

  StoreBatch(RetainStore store, boolean local) {
    this.store = store;
    this.changes = !local && store.changelogged() ? new java.util.ArrayList<>() : null;
  }

  /** Puts the value of {@code blob} for {@code parts} (see {@link Blob}). */
  public StoreBatch put(Blob blob, byte[] value, String... parts) {
    return put(blob.family(), blob.key(parts), value);
  }

  StoreBatch put(Family family, byte[] key, byte[] value) {
    Objects.requireNonNull(value, "value");
    try {
      batch.put(store.handle(family), key, value);
      if (changes != null) {
        changes.add(new Change(family, key, value));
      }
    } catch (RocksDBException e) {
      throw new StoreException("batch put failed", e);
    }
    return this;
  }

  StoreBatch delete(Family family, byte[] key) {
    try {
      batch.delete(store.handle(family), key);
      if (changes != null) {
        changes.add(new Change(family, key, null));
      }
    } catch (RocksDBException e) {
      throw new StoreException("batch delete failed", e);
    }
    return this;
  }

  public int size() {
    return batch.count();
  }

  /** The changes in the order they were made; empty without a changelog. */
  java.util.List<Change> changes() {
    return changes == null ? java.util.List.of() : changes;
  }

  /** Puts a value that stays in this store and never goes to the changelog. */
  void putLocal(Family family, byte[] key, byte[] value) {
    try {
      batch.put(store.handle(family), key, value);
    } catch (RocksDBException e) {
      throw new StoreException("batch put failed", e);
    }
  }

  WriteBatch writeBatch() {
    return batch;
  }

  @Override
  public void close() {
    batch.close();
  }
}
