package dev.retain.store;

/**
 * Another instance claimed this store's changelog partition: the commit changed nothing, and this
 * copy must be closed and left to the new owner.
 */
public final class StoreFencedException extends StoreException {
  private static final long serialVersionUID = 1L;

  public StoreFencedException(String message, Throwable cause) {
    super(message, cause);
  }
}
