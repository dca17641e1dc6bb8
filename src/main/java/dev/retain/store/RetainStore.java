package dev.retain.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;

/**
 * The one RocksDB database of a Retain instance. It owns every native handle; other classes address
 * state through a {@link Family} and byte keys. Thread-safe (RocksDB is); {@link #close()} is
 * idempotent and must not race with other calls.
 */
public final class RetainStore implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final WriteOptions writeOptions;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<Family, ColumnFamilyHandle> families = new EnumMap<>(Family.class);
  private final RocksDB db;
  private final Path dir;
  private final Changelog changelog; // null: this store is the only copy of its state
  private volatile boolean closed;

  private RetainStore(Path dir, boolean sync, boolean readOnly, Changelog changelog) {
    this.dir = dir;
    this.changelog = changelog;
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
    cfOptions = new ColumnFamilyOptions().setCompressionType(CompressionType.LZ4_COMPRESSION);
    writeOptions = new WriteOptions().setSync(sync);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (Family family : Family.values()) {
      descriptors.add(new ColumnFamilyDescriptor(family.columnFamilyName(), cfOptions));
    }
    try {
      Files.createDirectories(dir);
      db =
          readOnly
              ? RocksDB.openReadOnly(dbOptions, dir.toString(), descriptors, handles)
              : RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    } catch (Exception e) {
      closeOptions();
      throw new StoreException("cannot open the store at " + dir + ": " + e.getMessage(), e);
    }
    for (Family family : Family.values()) {
      families.put(family, handles.get(family.ordinal() + 1));
    }
  }

  /**
   * Opens (creating if needed) the store in {@code dir}. After a crash RocksDB replays its
   * write-ahead log, so every committed batch is present and no partial one is.
   *
   * @param sync fsync the log on every commit (survives power loss as well as a process crash)
   */
  public static RetainStore open(Path dir, boolean sync) {
    return new RetainStore(dir, sync, false, null);
  }

  /**
   * Opens the store in {@code dir} as a copy of one changelog partition: claims the partition
   * (fencing any other instance that wrote it), brings the local copy up to the partition's end,
   * and from then on writes each commit to the changelog, in one Kafka transaction, before it
   * applies it here. The store owns the changelog and closes it.
   *
   * @throws StoreFencedException when another instance claims the partition meanwhile
   */
  public static RetainStore open(Path dir, boolean sync, Changelog changelog) {
    RetainStore store = new RetainStore(dir, sync, false, changelog);
    try {
      changelog.claim();
      changelog.restore(store);
      return store;
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
  }

  /** Opens a read-only view; allowed while another process has the store open for writing. */
  public static RetainStore openReadOnly(Path dir) {
    return new RetainStore(dir, false, true, null);
  }

  /**
   * This store's identity: a random id written when it is first asked for and kept for the store's
   * life. Version ids include it, so two stores (two learners) never name different contents with
   * one id.
   */
  public synchronized String identity() {
    byte[] key = Keys.of("store-identity").bytes();
    byte[] stored = get(Family.META, key);
    if (stored != null) {
      return new String(stored, java.nio.charset.StandardCharsets.UTF_8);
    }
    String id = java.util.UUID.randomUUID().toString();
    try (StoreBatch batch = newBatch()) {
      batch.put(Family.META, key, id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      commit(batch);
    }
    return id;
  }

  public Path dir() {
    return dir;
  }

  public StoreBatch newBatch() {
    checkOpen();
    return new StoreBatch(this, false);
  }

  /** A batch that changes this copy only (a changelog's restore). */
  StoreBatch newLocalBatch() {
    checkOpen();
    return new StoreBatch(this, true);
  }

  /** Changes restored from the changelog when this store opened (0 without one). */
  public long restoredChanges() {
    return changelog == null ? 0 : changelog.restored();
  }

  /** True when every commit goes to a changelog first. */
  boolean changelogged() {
    return changelog != null;
  }

  /**
   * Writes every change of {@code batch} atomically, then closes it. With a changelog, the changes
   * go to it first, in one transaction (the consumer positions the batch stores among them);
   * commits are serialised, so this copy applies them in the changelog's order.
   *
   * @throws StoreFencedException when another instance owns the changelog partition now (nothing
   *     was written)
   */
  public void commit(StoreBatch batch) {
    checkOpen();
    if (changelog == null) {
      writeLocal(batch);
      return;
    }
    synchronized (this) {
      try (batch) {
        long next = changelog.write(batch.changes());
        if (next >= 0) {
          batch.putLocal(Family.META, Changelog.POSITION, Keys.longValue(next));
        }
        writeLocal(batch);
      }
    }
  }

  /** Writes {@code batch} to this copy only, then closes it. */
  void writeLocal(StoreBatch batch) {
    checkOpen();
    try (batch) {
      db.write(writeOptions, batch.writeBatch());
    } catch (RocksDBException e) {
      // e.g. "store write failed: IO error: No space left on device: While appending to file ..."
      throw new StoreException("store write failed: " + e.getMessage(), e);
    }
  }

  /** The value stored under {@code key}, or null. */
  /** The value of {@code blob} for {@code parts} (see {@link Blob}), or null. */
  public byte[] get(Blob blob, String... parts) {
    return get(blob.family(), blob.key(parts));
  }

  /**
   * Calls {@code visitor} with every value of {@code blob} whose key parts start with {@code
   * parts}.
   */
  public void scan(Blob blob, String[] parts, BiConsumer<byte[], byte[]> visitor) {
    scan(blob.family(), blob.key(parts), visitor);
  }

  /** The first key part (the model id) of every value of {@code blob}, in order. */
  public java.util.SortedSet<String> models(Blob blob) {
    java.util.SortedSet<String> models = new java.util.TreeSet<>();
    scan(
        blob.family(),
        blob.prefix(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          models.add(reader.str());
        });
    return models;
  }

  byte[] get(Family family, byte[] key) {
    checkOpen();
    try {
      return db.get(families.get(family), key);
    } catch (RocksDBException e) {
      throw new StoreException("read failed: " + e.getMessage(), e);
    }
  }

  /** Calls {@code visitor} with every key starting with {@code prefix}, in key order. */
  void scan(Family family, byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
    checkOpen();
    try (RocksIterator it = db.newIterator(families.get(family))) {
      for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
        visitor.accept(it.key(), it.value());
      }
    }
  }

  private static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }

  ColumnFamilyHandle handle(Family family) {
    checkOpen();
    return families.get(family);
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the store at " + dir + " is closed");
    }
  }

  /** Releases native handles in RocksDB's required order: column families, database, options. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (changelog != null) {
      changelog.close();
    }
    handles.forEach(ColumnFamilyHandle::close);
    db.close();
    closeOptions();
  }

  private void closeOptions() {
    writeOptions.close();
    cfOptions.close();
    dbOptions.close();
  }
}
