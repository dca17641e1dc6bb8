package dev.retain.store;

import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.record.InvalidExampleException;

/** How examples are stored in RocksDB values: the documented binary record layout. */
final class StoredExample {
  private static final BinaryExampleCodec CODEC = new BinaryExampleCodec();

  private StoredExample() {}

  static byte[] encode(Example example) {
    return CODEC.encode(example);
  }

  /** Decodes a stored value; a value that does not decode means the store is corrupt. */
  static Example decode(byte[] value, String family) {
    try {
      return CODEC.decode(value, "");
    } catch (InvalidExampleException e) {
      throw new IllegalStateException("corrupt " + family + " entry: " + e.getMessage(), e);
    }
  }
}
