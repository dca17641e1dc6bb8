/**
 * The RocksDB store ({@link dev.retain.store.RetainStore}, the only owner of RocksDB handles) and
 * the state kept in it: replay reservoir, holdout sets, dedup window, consumer positions. Every
 * change goes through a {@link dev.retain.store.StoreBatch} committed atomically.
 */
package dev.retain.store;
