package dev.retain.store;

/** A RocksDB operation failed; the store's state on disk is unchanged by the failed write. */
public class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
